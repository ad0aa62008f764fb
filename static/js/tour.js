/* The guided tour (after llm-viz's walk-through and CNN Explainer's sliding kernel): a card over
   the 3D view steps through the chapter (tourSteps.js), moves the camera to what each step talks
   about, lights the units involved, slides a window across a map, and rewrites its numbers as the
   drawing changes. Next / Back / Esc and the arrow keys; T starts it. */

import { currentDataset } from "./datasets.js";
import { el, scrollToSight } from "./dom.js";
import { fmt } from "./format.js";
import { neededParams } from "./geometry.js";
import { incoming } from "./receptive.js";
import { state } from "./state.js";
import { buildTour, switchActions } from "./tourSteps.js";

const $ = (id) => document.getElementById(id);
const SLIDE_MS = 90;
const SLIDE_ROWS = 3; // rows of a map the window visits, around its peak

function argmaxIn(values, start, end) {
  let best = start;
  for (let i = start; i < end; i++) if (values[i] > values[best]) best = i;
  return best;
}

export class Tour {
  /**
   * @param {{view, focus, forward, prediction, models, teach}} parts the 3D view, focus (its
   *   hover highlight gives way to the tour's), the forward pass (forwardpass.js), the
   *   prediction flow (its answers refresh the text), model switching and the teach section
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.open = false;
    this.steps = [];
    this.at = 0;
    this.timer = 0;
    this.token = 0;
    this.model = null;
    $("tour-start").addEventListener("click", () => (this.open ? this.close() : this.start()));
    $("tour-close").addEventListener("click", () => this.close());
    $("tour-next").addEventListener("click", () => this.go(this.at + 1));
    $("tour-back").addEventListener("click", () => this.go(this.at - 1));
    document.addEventListener("keydown", (e) => this.keys(e));
    this.prediction.watch(() => this.changed());
  }

  keys(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    // Keys other parts of the page use for themselves (form fields, tabs, the 3D view's units,
    // the sample grid) stay theirs.
    if (t.closest && t.closest("input, select, textarea, [role=tab], [role=group], #network-view")) return;
    if (!this.open) {
      if (e.key === "t" || e.key === "T") this.start();
      return;
    }
    if (e.key === "ArrowRight") this.go(this.at + 1);
    else if (e.key === "ArrowLeft") this.go(this.at - 1);
    else if (e.key === "Escape") this.close();
    else return;
    e.preventDefault();
  }

  start() {
    if (!state.modelName) return;
    this.open = true;
    state.touring = true;
    this.prediction.complete();
    this.build();
    $("tour").hidden = false;
    $("tour-start").setAttribute("aria-pressed", "true");
    document.body.classList.add("touring");
    // The button is in the header: on a phone the view may be scrolled away.
    $("stage-body").scrollIntoView({ block: "nearest" });
    this.go(0);
    $("tour-next").focus({ preventScroll: true });
  }

  close() {
    if (!this.open) return;
    this.open = false;
    state.touring = false;
    this.stopSlide();
    this.token += 1;
    $("tour").hidden = true;
    $("tour-start").setAttribute("aria-pressed", "false");
    document.body.classList.remove("touring");
    this.view.fit(false);
    this.focus.refresh();
  }

  /** The steps for the shown model and groups (again after a model switch). */
  build() {
    this.model = state.modelName;
    this.groupsKey = state.groups;
    this.steps = buildTour(state.models.get(state.modelName), state.groups, currentDataset());
    $("tour-dots").replaceChildren(...this.steps.map(() => el("li")));
  }

  /** A new answer (or none), a new model or new groups: rebuild if needed, rewrite the numbers. */
  changed() {
    if (!this.open) return;
    if (this.model !== state.modelName || this.groupsKey !== state.groups) {
      const id = this.steps[this.at]?.id;
      this.build();
      const again = this.steps.findIndex((s) => s.id === id);
      this.go(again >= 0 ? again : Math.min(this.at, this.steps.length - 1));
      return;
    }
    this.render();
    this.highlight();
  }

  ctx() {
    return { result: state.result, display: state.display, compare: state.compare, models: state.models };
  }

  /** Show step i: camera, text, highlights, animation. */
  go(i) {
    if (!this.open) return;
    if (i < 0 || i >= this.steps.length) {
      if (i >= this.steps.length) this.close();
      return;
    }
    this.at = i;
    this.forward.stop(false);
    const step = this.steps[i];
    this.render();
    this.move(step);
    this.highlight();
    if (step.id === "overview") this.forward.play();
  }

  move(step) {
    const stage = $("stage-body").getBoundingClientRect();
    const card = $("tour").getBoundingClientRect();
    // Keep what the step shows clear of the card: beside a narrow card, above a wide one (phone).
    const beside = stage.width > 0 && card.width < 0.6 * stage.width;
    const free = beside
      ? { right: (card.width + 24) / stage.width, bottom: 0.05 }
      : { right: 0, bottom: stage.height > 0 ? Math.min(0.6, (card.height + 16) / stage.height) : 0.2 };
    // No shot of its own: every layer, from the view's usual 3D angle.
    const shot = step.shot || { groups: state.groups.map((_, gi) => gi), yaw: null, pitch: null };
    const usual = this.view.pose3d || { yaw: -1, pitch: 0.4 };
    this.view.shoot(shot.groups, shot.yaw ?? usual.yaw, shot.pitch ?? usual.pitch, free);
  }

  render() {
    const step = this.steps[this.at];
    const n = this.steps.length;
    $("tour").dataset.step = step.id;
    $("tour-progress").textContent = `${this.at + 1} / ${n} · ${step.chapter}`;
    $("tour-title").textContent = step.title;
    const paragraph = (p) => el("p", {}, ...(Array.isArray(p) ? p : [p]).map((part) => {
      if (typeof part === "string") return part;
      if (part.live !== undefined) return el("span", { className: "num live" }, part.live);
      return el("span", { className: "formula" }, part.formula);
    }));
    $("tour-text").replaceChildren(...step.text(this.ctx()).map(paragraph));
    const actions = step.id === "deeper" ? switchActions(state.models, state.modelName) : step.actions;
    $("tour-actions").replaceChildren(...actions.map((a) => el("button", {
      type: "button", className: "btn", dataset: { action: a.id }, onclick: () => this.act(a.id),
    }, a.label)));
    [...$("tour-dots").children].forEach((dot, k) => {
      dot.className = k === this.at ? "now" : k < this.at ? "done" : "";
    });
    $("tour").scrollTop = 0; // a new step is read from its title
    $("tour-back").disabled = this.at === 0;
    $("tour-next").textContent = this.at === n - 1 ? "Finish" : "Next";
  }

  act(id) {
    if (id === "forward") this.forward.play();
    else if (id === "im2col" || id === "filters") {
      if (id === "im2col") this.teach.setTab("im2col");
      const target = id === "im2col" ? $("teach") : $("filters-title").closest("section");
      scrollToSight(target, "start");
    } else if (id.startsWith("model:")) {
      this.models.switchTo(id.slice(6));
    }
  }

  /** Light the step's unit (with its incoming connections), or start the sliding window. */
  async highlight() {
    const step = this.steps[this.at];
    const token = ++this.token;
    this.stopSlide();
    if (step.slide !== null) {
      this.slide(step.slide, token);
      return;
    }
    const unit = step.unit(this.ctx());
    if (!unit) {
      if (step.id !== "overview") this.view.setFocus(null, null);
      return;
    }
    const links = await this.links(unit);
    if (token === this.token && this.open) this.view.setFocus(unit, links);
  }

  /** The incoming connections of `unit` ({group, index}), or null. */
  async links(unit) {
    const group = state.groups[unit.group];
    const prev = state.groups[unit.group - 1];
    if (!prev) return null;
    const params = await this.params(group);
    return incoming(group, prev, unit.index, params, state.display[unit.group - 1]?.values);
  }

  /** A group's weights ({weight, bias}) when its connections need them, else null. */
  params(group) {
    if (!neededParams(group).length) return Promise.resolve(null);
    return this.focus.loadParams(group).promise.catch(() => null);
  }

  stopSlide() {
    clearInterval(this.timer);
    this.timer = 0;
    $("tour-live").textContent = "";
  }

  /** Slide the window across the most active map of group `gi`, a few rows, left to right. */
  async slide(gi, token) {
    const group = state.groups[gi];
    const prev = state.groups[gi - 1];
    if (!group?.isMaps || !prev) return;
    const params = await this.params(group);
    if (token !== this.token || !this.open) return;
    const [, H, W] = group.shape;
    const values = state.display[gi]?.values;
    // The map that answers most, and the rows around its peak (where the drawing is).
    const best = values && state.result ? argmaxIn(values, 0, values.length) : Math.floor(H / 2) * W;
    const map = Math.floor(best / (H * W));
    const peak = Math.floor((best % (H * W)) / W);
    const first = Math.max(0, Math.min(H - SLIDE_ROWS, peak - Math.floor(SLIDE_ROWS / 2)));
    const rows = Array.from({ length: Math.min(SLIDE_ROWS, H) }, (_, k) => first + k);
    const path = rows.flatMap((y) => Array.from({ length: W }, (_, x) => map * H * W + y * W + x));
    const ownValues = state.result?.layers.get(group.head.name)?.values;
    let k = 0;
    const tick = () => {
      const index = path[k % path.length];
      k += 1;
      const links = incoming(group, prev, index, params, state.display[gi - 1]?.values);
      this.view.setFocus({ group: gi, index }, links);
      const y = Math.floor((index % (H * W)) / W);
      $("tour-live").textContent = ownValues
        ? `now: map ${map}, row ${y}, column ${index % W} → ${fmt(ownValues[index])}` : "";
    };
    tick();
    this.timer = setInterval(tick, SLIDE_MS);
  }
}
