/* Model switching and the network view's controls: the model selector, the display groups
   rebuilt for a model or the merge switch, the layer chips that hide planes, 3D or flat layout,
   connections on or off. */

import { currentDataset } from "./datasets.js";
import { el } from "./dom.js";
import { count } from "./format.js";
import { buildGroups } from "./netmodel.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);

export class Models {
  /**
   * @param {{view, maps, filters, compare, readout, teach, focus, prediction, pad, datasets}} parts
   *   the 3D view, flat maps, filters and comparison panels, the hover readout, the
   *   explain-and-teach section, focus (focus.js), the prediction flow (predict.js), the pad
   *   (pad.js) and the dataset switch (datasets.js)
   */
  constructor(parts) {
    Object.assign(this, parts);
    $("model-select").addEventListener("change", (e) => this.switchTo(e.target.value));
    $("layout-3d").addEventListener("click", () => this.setLayout("3d"));
    $("layout-flat").addEventListener("click", () => this.setLayout("flat"));
    $("reset-view").addEventListener("click", () => this.view.fit(false));
    $("merge-toggle").addEventListener("change", (e) => {
      state.view.merge = e.target.checked;
      this.rebuild();
    });
    $("links-toggle").addEventListener("change", (e) => {
      state.view.links = e.target.checked;
      this.focus.refresh();
    });
  }

  /** Take the models from /api/models ({models}) and show the wanted one (?model=, else the
      default network of `dataset` (a shared link's sample's), else the default); the picker
      lists the networks of its dataset. */
  list(answer, dataset = null) {
    for (const m of answer.models) state.models.set(m.name, m);
    const select = $("model-select");
    const wanted = new URL(window.location.href).searchParams.get("model");
    const linked = dataset ? state.datasets.get(dataset)?.default_model : null;
    const initial = [wanted, linked, select.dataset.default, answer.default, answer.models[0]?.name]
      .find((n) => n && state.models.has(n));
    this.switchTo(initial);
  }

  /** The picker lists the networks trained on the shown dataset. */
  fillPicker() {
    const names = [...state.models.values()].filter((m) => m.dataset === state.datasetName).map((m) => m.name);
    $("model-select").replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    if (state.models.has(state.modelName)) $("model-select").value = state.modelName;
  }

  /** Show the first network of dataset `name` (its default one if the server names it). */
  switchDataset(name) {
    const preferred = state.datasets.get(name)?.default_model;
    const first = [...state.models.values()].find((m) => m.dataset === name)?.name;
    this.switchTo(state.models.has(preferred) ? preferred : first);
  }

  switchTo(name) {
    const model = state.models.get(name);
    if (!model) return;
    const changed = name !== state.modelName;
    const otherDataset = model.dataset !== state.datasetName;
    state.modelName = name;
    if (otherDataset) state.compare = null; // the other dataset's networks' answers
    this.datasets.show(model.dataset);
    $("model-select").value = name;
    const acc = model.test_accuracy != null ? ` · ${(model.test_accuracy * 100).toFixed(2)}% on ${currentDataset().title} test` : "";
    $("model-meta").textContent = `${count(model.param_count)} parameters${acc}`;
    $("model-meta").title = model.description || "";
    const url = new URL(window.location.href);
    url.searchParams.set("model", name);
    window.history.replaceState(null, "", url);
    if (!changed && state.groups.length) return;
    if (state.compare) this.compare.show(state.compare, name);
    state.view.hidden.clear();
    state.result = null;
    this.rebuild();
    this.filters.setModel(model);
    this.teach.setModel(model);
    if (state.source) this.prediction.ask(state.source, otherDataset);
    else this.prediction.clear(this.pad.isBlank() ? `draw a ${currentDataset().noun} to start` : "…");
  }

  rebuild() {
    const model = state.models.get(state.modelName);
    state.groups = buildGroups(model, state.view.merge);
    this.view.setGroups(state.groups, state.view.hidden);
    this.view.setLayout(state.view.layout);
    this.maps.build(state.groups);
    this.buildChips();
    this.focus.reset();
    this.prediction.pushValues();
    this.prediction.complete();
    if (state.result) this.view.setPredicted(state.result.label);
  }

  buildChips() {
    const chips = state.groups.map((g) => {
      const hidden = state.view.hidden.has(g.head.name);
      return el("button", {
        type: "button", className: `chip${hidden ? " off" : ""}`, "aria-pressed": String(!hidden),
        title: `${hidden ? "Show" : "Hide"} ${g.title}`,
        dataset: { layer: g.head.name, members: g.members.join(" ") },
        onclick: (e) => {
          const h = state.view.hidden;
          if (h.has(g.head.name)) h.delete(g.head.name);
          else h.add(g.head.name);
          const off = h.has(g.head.name);
          e.currentTarget.classList.toggle("off", off);
          e.currentTarget.setAttribute("aria-pressed", String(!off));
          e.currentTarget.title = `${off ? "Show" : "Hide"} ${g.title}`;
          state.hover = null;
          this.view.setHidden(h);
          this.focus.refresh();
        },
      }, g.title);
    });
    $("layer-chips").replaceChildren(...chips);
  }

  setLayout(mode) {
    state.view.layout = mode;
    for (const [id, m] of [["layout-3d", "3d"], ["layout-flat", "flat"]]) {
      $(id).classList.toggle("active", m === mode);
      $(id).setAttribute("aria-pressed", String(m === mode));
    }
    state.hover = null;
    this.readout.hide();
    this.view.setLayout(mode);
    this.focus.refresh();
  }

  toggleLayout() {
    this.setLayout(state.view.layout === "flat" ? "3d" : "flat");
  }
}

/** Networks that appeared since the page loaded (a finished training run) join the picker; the
    shown one stays. `summaries`: /api/models' list. */
export function addToPicker(summaries) {
  const select = $("model-select");
  for (const m of summaries) {
    if (state.models.has(m.name)) continue;
    state.models.set(m.name, m);
    if (m.dataset === state.datasetName) select.append(el("option", { value: m.name }, m.name));
  }
}

/** A deleted run's network leaves the picker; if it was shown, the first network is. */
export function dropFromPicker(name) {
  const select = $("model-select");
  state.models.delete(name);
  select.querySelector(`option[value="${CSS.escape(name)}"]`)?.remove();
  if (state.modelName === name && select.options.length) {
    select.value = select.options[0].value;
    select.dispatchEvent(new Event("change"));
  }
}
