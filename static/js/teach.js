/* The explain-and-teach section, driven by the panel descriptors in panels.js: tabs, which panel
   is live (its tab open and on screen, or a descriptor's own reason), one paced request per
   panel whenever what it follows (model, drawing) or its settings change, and handing answers
   back to the descriptor. Panels off screen only go stale and catch up when seen again. */

import { latestOnly } from "./latest.js";
import { PANELS } from "./panels.js";
import { noun } from "./datasets.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);

export class Teach {
  /**
   * @param {object} hooks what panels may ask of the page: busy(on), loadDigit(pixels, note),
   *   setOverlay(values | null, caption) (a heatmap on the 3D view's input), setTarget(digit |
   *   null) (mark the explained digit), describeSource(source) → {image, note},
   *   modelsChanged() (a network joined or left the list: every network's answer is asked again),
   *   inspectUnit(layer, index) (open the unit panel on a layer's channel or dense unit)
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.sourceId = 0;
    this.asked = new Map(); // per panel: the key of its last request
    this.panels = new Map();
    for (const d of PANELS) {
      state.teach[d.id] = d.settings ? d.settings() : {};
      const ctx = {
        settings: state.teach[d.id],
        page: state,
        hooks,
        painter: null,
        refresh: () => this.refresh(d.id),
        showOverlay: () => this.showOverlay(),
      };
      ctx.painter = d.create(ctx);
      const run = latestOnly((req) => this.answer(d, ctx, req), hooks.busy);
      // empty: the panel shows no answer (nothing yet, or a placeholder saying why)
      this.panels.set(d.id, { d, ctx, run, empty: true });
    }

    for (const d of PANELS) $(`tab-${d.id}`).addEventListener("click", () => this.setTab(d.id));
    $("teach-tabs").addEventListener("keydown", (e) => this.tabKeys(e));
    new IntersectionObserver((entries) => {
      state.teach.visible = entries.some((e) => e.isIntersecting);
      if (state.teach.visible) this.refreshAll();
    }, { rootMargin: "0px 0px -40px 0px" }).observe($("teach")); // seen, not merely touching the edge
    new ResizeObserver(() => this.each((d, ctx) => d.shown?.(ctx))).observe($("teach"));
    this.setTab(state.teach.tab || PANELS[0].id);
  }

  each(fn) {
    for (const { d, ctx } of this.panels.values()) fn(d, ctx);
  }

  // ----- what to show -------------------------------------------------------------------------

  setTab(id) {
    state.teach.tab = id;
    for (const d of PANELS) {
      const on = d.id === id;
      $(`tab-${d.id}`).setAttribute("aria-selected", String(on));
      $(`tab-${d.id}`).tabIndex = on ? 0 : -1;
      $(`panel-${d.id}`).hidden = !on;
    }
    this.showOverlay();
    const { d, ctx } = this.panels.get(id);
    d.shown?.(ctx);
    this.refresh(id);
  }

  tabKeys(e) {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const i = PANELS.findIndex((d) => d.id === state.teach.tab);
    const next = PANELS[(i + step + PANELS.length) % PANELS.length].id;
    this.setTab(next);
    $(`tab-${next}`).focus();
  }

  /** A panel asks the server only while someone can see it (or its descriptor says why else). */
  live(id) {
    if (state.teach.tab !== id) return false;
    const { d, ctx } = this.panels.get(id);
    return state.teach.visible || Boolean(d.liveOffScreen?.(ctx));
  }

  /** The open panel's heatmap on the 3D view's input layer, if it has one. */
  showOverlay() {
    const { d, ctx } = this.panels.get(state.teach.tab);
    const overlay = d.overlay ? d.overlay(ctx) : null;
    this.hooks.setOverlay(overlay ? overlay.values : null, overlay ? overlay.caption : "");
  }

  /** Open panel `id` and hand it `changes` to its settings (a probability bar's "why a d?"). */
  open(id, changes) {
    if (state.teach.tab !== id) this.setTab(id);
    const { d, ctx } = this.panels.get(id);
    d.update(ctx, changes);
  }

  // ----- changes from the page --------------------------------------------------------------

  /** A new model: panels reset what belonged to the old one; those not following the drawing
      ask again now (the rest are asked when the drawing is re-sent for the new model). */
  setModel(model) {
    this.each((d, ctx) => d.modelChanged?.(ctx, model));
    this.showOverlay();
    for (const d of PANELS) if (!d.follows.includes("source")) this.refresh(d.id);
  }

  /** The drawing changed ({image} or {pixels}), or the pad was cleared (null). */
  setSource(source) {
    this.sourceId += 1;
    if (!source) {
      this.each((d, ctx) => {
        if (!d.follows.includes("source")) return;
        d.cleared?.(ctx);
        this.placeholder(d.id, `Draw a ${noun()} (or load one) to see this.`);
      });
      this.showOverlay();
      return;
    }
    this.refreshAll();
  }

  /** A prediction arrived for the current drawing. */
  predicted(result) {
    this.each((d, ctx) => d.predicted?.(ctx, result));
  }

  // ----- requests ---------------------------------------------------------------------------

  refreshAll() {
    for (const d of PANELS) this.refresh(d.id);
  }

  /** The request a panel needs now, keyed by everything its answer depends on, or null. */
  request(id) {
    const { d, ctx } = this.panels.get(id);
    const model = state.modelName;
    const source = state.source;
    const followsSource = d.follows.includes("source");
    if (!model || (followsSource && !source)) return null;
    const options = d.request ? d.request(ctx) : {};
    const key = [id, d.follows.includes("model") ? model : "", followsSource ? this.sourceId : "",
      JSON.stringify(options)].join("|");
    return { model, source, options, key };
  }

  refresh(id) {
    if (!this.live(id)) return;
    const req = this.request(id);
    if (!req || this.asked.get(id) === req.key) return;
    this.asked.set(id, req.key);
    const panel = this.panels.get(id);
    // A panel with no answer on screen says it is working, not what it needs (issue 14).
    if (panel.empty) panel.ctx.painter.placeholder(`Loading: asking the server about this ${noun()}…`);
    panel.run(req);
  }

  /** Show `text` instead of an answer in panel `id`. */
  placeholder(id, text) {
    const panel = this.panels.get(id);
    panel.empty = true;
    panel.ctx.painter.placeholder(text);
  }

  /** Still what the page wants? (Otherwise a newer request is queued or the panel is stale.) */
  current(id, req) {
    const now = this.request(id);
    return now !== null && now.key === req.key;
  }

  /** Ask through the descriptor and apply the answer if the page still wants it. */
  async answer(d, ctx, req) {
    try {
      const answer = await d.ask(ctx, req);
      if (this.current(d.id, req)) {
        d.apply(ctx, answer, req);
        this.panels.get(d.id).empty = false;
      }
    } catch (err) {
      if (!this.current(d.id, req)) return;
      this.asked.set(d.id, null); // the next change retries
      d.failed?.(ctx);
      this.showOverlay();
      const text = err.status === 422 && /draw/i.test(err.message)
        ? `The pad looks empty: draw a ${noun()}.`
        : `The server could not answer: ${err.message}`;
      this.placeholder(d.id, text);
    }
  }
}
