/* Wiring: the pad asks for predictions, answers fan out to the 3D view, the flat maps, the
   answer card, the unit panel and the explain-and-teach views (teach.js); model, layout and
   layer switches rebuild what they must. */

import * as api from "./api.js";
import { decodeArray, decodeLayer, decodeSample } from "./codec.js";
import { paintLegend } from "./colormap.js";
import { ComparePanel } from "./compare.js";
import { DrawPad } from "./drawpad.js";
import { el } from "./dom.js";
import { explainUnit } from "./explain.js";
import { FiltersPanel } from "./filters.js";
import { count } from "./format.js";
import { InspectPanel } from "./inspect.js";
import { latestOnly } from "./latest.js";
import { MapsPanel } from "./maps.js";
import { buildGroups, displayValues, unitLabel } from "./netmodel.js";
import { NetView } from "./netview.js";
import { ParamCache } from "./params.js";
import { Readout } from "./readout.js";
import { incoming, neededParams } from "./receptive.js";
import { ResultPanel } from "./result.js";
import { renderSamples } from "./samples.js";
import { state } from "./state.js";
import { Teach } from "./teach.js";

const $ = (id) => document.getElementById(id);
const DRAW_THROTTLE_MS = 150;
const PREFETCH_LIMIT = 2_000_000; // parameters fetched eagerly for instant hover connections

const result = new ResultPanel({
  prediction: $("prediction"), confidence: $("confidence"), bars: $("prob-bars"),
  inputView: $("input-view"), timing: $("timing"), status: $("status"),
}, (digit) => teach.explainTarget(digit));
const comparePanel = new ComparePanel($("compare"), (name) => switchModel(name));
const readout = new Readout($("hover-readout"), $("stage-body"));
const inspect = new InspectPanel(
  { panel: $("inspect"), title: $("inspect-title"), body: $("inspect-body"), close: $("inspect-close") },
  () => select(null));
inspect.onRefresh = () => showInspect();
const maps = new MapsPanel($("maps"), { onPick: (group, index) => select({ group, index }, true) });
const filters = new FiltersPanel(
  { el: $("filters"), select: $("filter-layer"), channel: $("filter-channel"), channelWrap: $("filter-channel-wrap") },
  async (layer, which) => decodeArray(await api.getFilters(state.modelName, layer, which)));
const view = new NetView({
  canvas: $("network-view"), body: $("stage-body"), labels: $("labels"),
  onHover: (unit, e) => hover(unit, e),
  onClick: (unit) => select(unit),
  onError: (message) => showViewMessage(message),
});
const pad = new DrawPad($("draw-canvas"), {
  onDraw: () => drawing(),
  onStroke: () => strokeDone(),
  onChange: () => padChanged(),
});
const teach = new Teach({
  busy: (on) => busy(on),
  loadDigit: (pixels, text) => {
    loadPixels(pixels, text);
    $("pad-title").closest(".layout").scrollIntoView({ behavior: "smooth", block: "start" });
  },
  setOverlay: (values, caption) => {
    view.setOverlay(values);
    $("overlay-note").hidden = !values;
    $("overlay-note").textContent = caption || "";
  },
  setTarget: (digit) => result.markTarget(digit),
  describeSource: (source) => describeSource(source),
});
const uploads = new WeakMap(); // source object of an upload → {image: data URL, name}
let demo = false; // the pad shows the automatic first sample, not the user's drawing
let note = ""; // hint shown with the next answer (what was loaded)

// ----- requests: one in flight per kind, only the latest waiting input is sent -------------

let busyCount = 0;
function busy(on) {
  busyCount += on ? 1 : -1;
  document.body.dataset.busy = busyCount > 0 ? "1" : "0";
}

const predict = latestOnly(async (source) => {
  const model = state.modelName;
  try {
    const answer = await api.activations(model, source);
    if (model === state.modelName && state.source) applyAnswer(answer);
  } catch (err) {
    if (state.source) showError(err);
  }
}, (on) => {
  busy(on);
  result.busy(on);
});

const compareAll = latestOnly(async (source) => {
  try {
    const answer = await api.compare(source);
    if (state.source) {
      state.compare = answer.results;
      comparePanel.show(answer.results, state.modelName);
    }
  } catch (err) {
    if (state.source && err.status !== 422) comparePanel.placeholder(`Comparison failed: ${err.message}`);
  }
}, busy);

function ask(source, withCompare) {
  state.source = source;
  predict(source);
  if (withCompare) compareAll(source);
  teach.setSource(source);
}

function showError(err) {
  if (err.status === 422 && /draw/i.test(err.message)) {
    clearResult("the pad looks empty: draw a digit");
    result.status("Draw a digit on the pad: strokes about as thick as the brush work best.", "hint");
    return;
  }
  const text = err.status === 0
    ? "The server cannot be reached. Is cnnvis still running?"
    : `Could not classify this drawing: ${err.message}`;
  result.status(text, "error");
}

function applyAnswer(answer) {
  const layers = new Map();
  for (const l of answer.layers || []) layers.set(l.name, decodeLayer(l));
  state.result = { label: answer.label, probabilities: answer.probabilities, input: answer.input, layers };
  result.show(answer);
  result.status(note, note ? "hint" : "");
  pushValues();
  view.setPredicted(answer.label);
  teach.predicted(state.result);
  prefetchParams();
}

/** Recompute per-group values for the current groups and repaint everything that shows them. */
function pushValues() {
  const layers = state.result ? state.result.layers : new Map();
  state.display = displayValues(state.groups, layers);
  view.setValues(state.display);
  maps.update(state.display);
  refreshFocus();
  if (state.selected) showInspect();
}

function clearResult(hint) {
  state.result = null;
  result.empty(hint);
  view.setPredicted(-1);
  pushValues();
  state.compare = null;
  comparePanel.placeholder("Draw a digit to ask every network.");
}

// ----- the pad ------------------------------------------------------------------------------

let lastDrawAsk = 0;
let drawTimer = 0;

function drawing() {
  note = "";
  demo = false;
  $("pad-hint").hidden = true;
  const now = performance.now();
  clearTimeout(drawTimer);
  if (now - lastDrawAsk >= DRAW_THROTTLE_MS) {
    lastDrawAsk = now;
    ask({ image: pad.toDataURL() }, false);
  } else {
    drawTimer = setTimeout(drawing, DRAW_THROTTLE_MS - (now - lastDrawAsk));
  }
}

function strokeDone() {
  clearTimeout(drawTimer);
  lastDrawAsk = performance.now();
  ask({ image: pad.toDataURL() }, true);
}

function padChanged() {
  $("undo").disabled = !pad.canUndo();
  $("pad-hint").hidden = !pad.isBlank();
}

$("brush-size").addEventListener("input", (e) => {
  pad.size = Number(e.target.value);
  document.documentElement.style.setProperty("--brush", `${pad.size}`);
});
$("clear").addEventListener("click", () => {
  demo = false;
  note = "";
  pad.clear();
  state.source = null;
  teach.setSource(null);
  clearTimeout(drawTimer);
  clearResult("draw a digit to start");
  result.status("");
});
$("undo").addEventListener("click", undo);

function undo() {
  if (!pad.canUndo()) return;
  pad.undo();
  demo = false;
  note = "";
  if (pad.isBlank()) {
    state.source = null;
    teach.setSource(null);
    clearResult("draw a digit to start");
  } else {
    ask({ image: pad.toDataURL() }, true);
  }
}

$("upload").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  demo = false;
  result.status(`Reading ${file.name}…`);
  try {
    const answer = await api.predictFile(file, state.modelName);
    pad.setPixels(answer.input.flat());
    note = `${file.name}: cropped, scaled and centred like MNIST.`;
    const source = { pixels: answer.input };
    uploads.set(source, { image: await readDataUrl(file), name: file.name });
    ask(source, true);
  } catch (err) {
    result.status(`Could not read ${file.name}: ${err.message}`, "error");
  }
});

function readDataUrl(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(file);
  });
}

/** The image a source's preprocessing steps start from, and what to say about it. */
function describeSource(source) {
  if (source.image) return { image: source.image, note: "" };
  const upload = uploads.get(source);
  if (upload && upload.image) return { image: upload.image, note: `The steps the server applied to ${upload.name}.` };
  return {
    image: pad.toDataURL(),
    note: "This digit came in as 28×28 pixels and goes to the network as it is. Below: what the " +
      "same steps do to the pad's picture of it, as they would to a drawing.",
  };
}

function loadSample(sample, isDemo = false) {
  loadPixels(sample.pixels, isDemo
    ? "This is an MNIST test digit: start drawing to replace it with your own."
    : `MNIST test digit #${sample.index}, labelled ${sample.label}.`, isDemo);
}

/** Put a 28×28 digit (Float32Array, ink = 1) on the pad and ask about it as it is. */
function loadPixels(flat, text, isDemo = false) {
  pad.setPixels(flat);
  pad.replaceOnDraw = isDemo;
  demo = isDemo;
  note = text;
  const pixels = [];
  for (let r = 0; r < 28; r++) pixels.push(Array.from(flat.subarray(r * 28, r * 28 + 28)));
  ask({ pixels }, true);
}

// ----- the 3D view: hover, click, focus -----------------------------------------------------

function sameUnit(a, b) {
  return a && b && a.group === b.group && a.index === b.index;
}

function hover(unit, e) {
  const changed = !sameUnit(unit, state.hover);
  state.hover = unit;
  if (unit) {
    const group = state.groups[unit.group];
    const value = state.display[unit.group]?.values[unit.index];
    const extra = group.isOutput && state.result
      ? `p = ${(state.result.probabilities[unit.index] * 100).toFixed(1)}%` : "click for the arithmetic";
    readout.show(unitLabel(group, unit.index), state.result ? value : NaN, extra, e.clientX, e.clientY);
  } else {
    readout.hide();
  }
  if (changed) refreshFocus();
}

function select(unit, fromPanel = false) {
  state.selected = unit;
  if (!unit) {
    inspect.hide();
  } else {
    showInspect();
    if (fromPanel) $("inspect").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
  refreshFocus();
}

let focusToken = 0;

/** Highlight the hovered (else selected) unit and draw its incoming connections. */
async function refreshFocus() {
  const unit = state.hover || state.selected;
  const token = ++focusToken;
  if (!unit || !state.groups[unit.group]) {
    view.setFocus(null, null);
    return;
  }
  const group = state.groups[unit.group];
  const prev = state.groups[unit.group - 1];
  if (!state.view.links || !prev) {
    view.setFocus(unit, null);
    return;
  }
  let params = null;
  if (neededParams(group).length) {
    const pending = loadParams(group);
    if (!pending.settled) view.setFocus(unit, null);
    params = await pending.promise.catch(() => null);
    if (token !== focusToken) return;
  }
  const prevValues = state.display[unit.group - 1]?.values;
  view.setFocus(unit, incoming(group, prev, unit.index, params, prevValues));
}

async function showInspect() {
  const unit = state.selected;
  const group = unit && state.groups[unit.group];
  if (!group) return;
  const layers = state.result ? state.result.layers : new Map();
  const probs = state.result ? state.result.probabilities : null;
  const explain = (params) => {
    const ex = explainUnit(state.groups, unit.group, unit.index, layers, params, probs);
    const norm = state.display[unit.group]?.norm[unit.index];
    ex.shade = norm === undefined ? 0 : (norm - 127.5) / 127.5;
    return ex;
  };
  let params = null;
  if (neededParams(group).length) {
    const pending = loadParams(group);
    if (!pending.settled) inspect.show(group, unit.index, explain(null), true);
    params = await pending.promise.catch(() => null);
    if (!sameUnit(unit, state.selected)) return;
  }
  inspect.show(group, unit.index, explain(params), false);
}

// ----- parameters (weights for connections and the unit panel), cached per model ----------

const params = new ParamCache(state.params, async (model, name) => decodeArray(await api.getParam(model, name)));
const loadParams = (group) => params.forGroup(state.modelName, group);

let prefetched = null;
function prefetchParams() {
  const model = state.models.get(state.modelName);
  if (!model || prefetched === model.name || model.param_count > PREFETCH_LIMIT) return;
  prefetched = model.name;
  params.prefetch(model.name, state.groups, () => state.modelName === model.name);
}

// ----- model, layout and layer switches -----------------------------------------------------

function switchModel(name) {
  const model = state.models.get(name);
  if (!model) return;
  const changed = name !== state.modelName;
  state.modelName = name;
  $("model-select").value = name;
  const acc = model.test_accuracy != null ? ` · ${(model.test_accuracy * 100).toFixed(2)}% on MNIST test` : "";
  $("model-meta").textContent = `${count(model.param_count)} parameters${acc}`;
  $("model-meta").title = model.description || "";
  const url = new URL(window.location.href);
  url.searchParams.set("model", name);
  window.history.replaceState(null, "", url);
  if (!changed && state.groups.length) return;
  if (state.compare) comparePanel.show(state.compare, name);
  state.view.hidden.clear();
  state.hover = null;
  state.selected = null;
  inspect.hide();
  state.result = null;
  rebuild();
  filters.setModel(model);
  teach.setModel(model);
  if (state.source) ask(state.source, false);
  else clearResult(pad.isBlank() ? "draw a digit to start" : "…");
}

function rebuild() {
  const model = state.models.get(state.modelName);
  state.groups = buildGroups(model, state.view.merge);
  view.setGroups(state.groups, state.view.hidden);
  view.setLayout(state.view.layout);
  maps.build(state.groups);
  buildChips();
  state.hover = null;
  state.selected = null;
  inspect.hide();
  pushValues();
  if (state.result) view.setPredicted(state.result.label);
}

function buildChips() {
  const chips = state.groups.map((g) => {
    const hidden = state.view.hidden.has(g.head.name);
    return el("button", {
      type: "button", className: `chip${hidden ? " off" : ""}`, "aria-pressed": String(!hidden),
      title: `${hidden ? "Show" : "Hide"} ${g.title}`,
      dataset: { layer: g.head.name },
      onclick: (e) => {
        const h = state.view.hidden;
        if (h.has(g.head.name)) h.delete(g.head.name);
        else h.add(g.head.name);
        const off = h.has(g.head.name);
        e.currentTarget.classList.toggle("off", off);
        e.currentTarget.setAttribute("aria-pressed", String(!off));
        e.currentTarget.title = `${off ? "Show" : "Hide"} ${g.title}`;
        state.hover = null;
        view.setHidden(h);
        refreshFocus();
      },
    }, g.title);
  });
  $("layer-chips").replaceChildren(...chips);
}

function setLayout(mode) {
  state.view.layout = mode;
  for (const [id, m] of [["layout-3d", "3d"], ["layout-flat", "flat"]]) {
    $(id).classList.toggle("active", m === mode);
    $(id).setAttribute("aria-pressed", String(m === mode));
  }
  state.hover = null;
  readout.hide();
  view.setLayout(mode);
  refreshFocus();
}

$("model-select").addEventListener("change", (e) => switchModel(e.target.value));
$("layout-3d").addEventListener("click", () => setLayout("3d"));
$("layout-flat").addEventListener("click", () => setLayout("flat"));
$("reset-view").addEventListener("click", () => view.fit(false));
$("merge-toggle").addEventListener("change", (e) => {
  state.view.merge = e.target.checked;
  rebuild();
});
$("links-toggle").addEventListener("change", (e) => {
  state.view.links = e.target.checked;
  refreshFocus();
});

document.addEventListener("keydown", (e) => {
  const typing = e.target.closest && e.target.closest("input, select, textarea");
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z" && !typing) {
    e.preventDefault();
    undo();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "Escape") {
    if (inspect.open) select(null);
  } else if (e.key === "r" || e.key === "R") {
    view.fit(false);
  } else if (e.key === "f" || e.key === "F") {
    setLayout(state.view.layout === "flat" ? "3d" : "flat");
  }
});

// ----- start-up -----------------------------------------------------------------------------

function showViewMessage(text) {
  const msg = $("view-message");
  msg.hidden = false;
  msg.textContent = text;
}

async function boot() {
  paintLegend($("legend-bar"));
  if (view.error) showViewMessage(`The 3D view needs WebGL2 (${view.error}). The flat feature maps below still work.`);
  let answer;
  try {
    answer = await api.getModels();
  } catch (err) {
    result.status(`Cannot load the list of networks: ${err.message}`, "error");
    return;
  }
  for (const m of answer.models) state.models.set(m.name, m);
  const select = $("model-select");
  select.replaceChildren(...answer.models.map((m) => el("option", { value: m.name }, m.name)));
  const wanted = new URL(window.location.href).searchParams.get("model");
  const initial = [wanted, select.dataset.default, answer.default, answer.models[0]?.name]
    .find((n) => n && state.models.has(n));
  switchModel(initial);
  try {
    const { samples } = await api.getSamples();
    state.samples = samples.map((s) => ({ index: s.index, label: s.label, pixels: decodeSample(s) }));
    renderSamples($("samples"), state.samples, (s) => loadSample(s));
    if (pad.isBlank() && !state.source && state.samples.length) loadSample(state.samples[0], true);
  } catch (err) {
    $("samples").replaceChildren(el("p", { className: "muted small" }, `Samples unavailable: ${err.message}`));
  }
}

boot();
