/* Wiring: builds the page's parts and connects them. The pad (pad.js) feeds the prediction flow
   (predict.js), whose answers fan out to the answer card, the 3D view, the flat maps and the
   explain-and-teach panels (teach.js, panels.js); focus.js handles hover and the unit panel,
   models.js model switches and the view's controls. */

import { isOff, toggleUnit } from "./ablate.js";
import * as api from "./api.js";
import { decodeArray, decodeSample } from "./codec.js";
import { paintLegend } from "./colormap.js";
import { ComparePanel } from "./compare.js";
import { Datasets } from "./datasets.js";
import { el, scrollToSight } from "./dom.js";
import { FiltersPanel } from "./filters.js";
import { ForwardPass } from "./forwardpass.js";
import { Focus } from "./focus.js";
import { unitLayerOf } from "./geometry.js";
import { InspectPanel } from "./inspect.js";
import { MapsPanel } from "./maps.js";
import { Models } from "./models.js";
import { NetView } from "./netview.js";
import { Pad } from "./pad.js";
import { paintHeatLegend } from "./paint.js";
import { Prediction } from "./predict.js";
import { Readout } from "./readout.js";
import { Replay } from "./replay.js";
import { ResultPanel } from "./result.js";
import { renderSamples } from "./samples.js";
import { ScaleLegend } from "./scales.js";
import { Share } from "./share.js";
import { state } from "./state.js";
import { Teach } from "./teach.js";
import { Tour } from "./tour.js";
import { UnitKeys } from "./unitkeys.js";

const $ = (id) => document.getElementById(id);

function showViewMessage(text) {
  const msg = $("view-message");
  msg.hidden = false;
  msg.textContent = text;
}

const result = new ResultPanel({
  prediction: $("prediction"), confidence: $("confidence"), bars: $("prob-bars"),
  inputView: $("input-view"), timing: $("timing"), status: $("status"),
}, (digit) => teach.open("why", { target: digit, engaged: true }));
const compare = new ComparePanel($("compare"), (name) => models.switchTo(name));
const readout = new Readout($("hover-readout"), $("stage-body"));
const inspect = new InspectPanel(
  { panel: $("inspect"), title: $("inspect-title"), body: $("inspect-body"), close: $("inspect-close") },
  () => focus.select(null));
const maps = new MapsPanel($("maps"), {
  onPick: (group, index) => focus.select({ group, index }, true),
  switchable: (group) => unitLayerOf(state.models.get(state.modelName)?.layers || [], group.head.name),
  isOff,
  onToggle: (layer, index) => switchUnit(layer, index),
});
const filters = new FiltersPanel(
  { el: $("filters"), select: $("filter-layer"), channel: $("filter-channel"), channelWrap: $("filter-channel-wrap") },
  async (layer, which) => decodeArray(await api.getFilters(state.modelName, layer, which)));
const view = new NetView({
  canvas: $("network-view"), body: $("stage-body"), labels: $("labels"),
  onHover: (unit, e) => focus.hover(unit, e),
  onClick: (unit) => focus.select(unit),
  onError: (message) => showViewMessage(message),
});
const focus = new Focus({ view, readout, inspect, switchUnit: (layer, index) => switchUnit(layer, index) });
const CARD_GAP = 28; // CSS px between the framed picture and the unit panel
// Where the unit panel lies over the view (beside it on wide screens, below it on narrow ones),
// the picture is framed in the part it leaves free.
inspect.onToggle = (open) => view.setRoom(open ? coveredRight($("inspect"), $("stage-body")) : 0);

/** CSS pixels of `body`'s width that `card` covers from its right edge, with a gap for the
    output units' labels (0 when apart). */
function coveredRight(card, body) {
  const c = card.getBoundingClientRect();
  const b = body.getBoundingClientRect();
  const over = c.left < b.right && c.right > b.left && c.top < b.bottom && c.bottom > b.top;
  return over ? b.right - c.left + CARD_GAP : 0;
}

/** Switch a unit off or back on (issue 16): every view is asked again with the units off. */
function switchUnit(layer, index) {
  toggleUnit(layer, index);
  maps.markOff();
  teach.refreshAll(); // panels whose request carries the units off (why.js) ask again
  if (state.source) prediction.ask(state.source, true);
  else focus.showInspect();
}
new UnitKeys({ canvas: $("network-view"), body: $("stage-body"), live: $("view-live"), focus });
const teach = new Teach({
  busy: (on) => prediction.busy(on),
  loadDigit: (pixels, text) => {
    pad.loadPixels(pixels, text);
    scrollToSight($("pad-title").closest(".layout"), "start");
  },
  setOverlay: (values, caption) => {
    view.setOverlay(values);
    $("overlay-note").hidden = !values;
    $("overlay-note").textContent = caption || "";
    $("legend-heat").hidden = !values; // the legend explains the heat's colours while shown
    $("legend-heat-caption").textContent = values ? `${caption}: the input layer's colours` : "";
  },
  setTarget: (digit) => result.markTarget(digit),
  describeSource: (source) => pad.describe(source),
  modelsChanged: () => {
    if (state.source) prediction.compareAll(state.source);
  },
  inspectUnit: (layer, index) => {
    const gi = state.groups.findIndex((g) => g.members.includes(layer));
    if (gi < 0) return;
    if (state.groups[gi].isMaps) maps.pick(gi, index);
    else focus.select({ group: gi, index }, true);
  },
});
// Colour scales, stroke replay and shareable links (issue 19).
const scales = new ScaleLegend({
  select: $("scale-mode"), lo: $("legend-lo"), hi: $("legend-hi"), caption: $("legend-range"), note: $("maps-scale"),
}, (mode) => {
  state.view.scale = mode;
  prediction.pushValues();
});
const prediction = new Prediction({ result, compare, view, maps, teach, focus, scales });
const pad = new Pad({ prediction, result });
const samplesOf = new Map(); // dataset name → Promise of its decoded samples
const datasets = new Datasets({
  onPick: (name) => models.switchDataset(name),
  onShown: (ds) => {
    models.fillPicker();
    showSamples(ds.name, state.booted); // at start-up, boot() decides (a shared link may restore)
  },
});
const models = new Models({ view, maps, filters, compare, readout, teach, focus, prediction, pad, datasets });
new Replay({ pad, prediction });
const share = new Share({ pad, view, models, focus, teach, scales });
// The guided tour and the forward pass (issue 19): the view's highlights return to whoever owns them.
const forward = new ForwardPass({ view, button: $("forward-play"), done: () => (tour.open ? tour.highlight() : focus.refresh()) });
const tour = new Tour({ view, focus, forward, prediction, models, teach });

/** The shown dataset's test samples in the gallery; a pad without a drawing of the user's own
    gets the first of them. */
async function showSamples(name, autoload) {
  if (!samplesOf.has(name)) {
    samplesOf.set(name, api.getSamples(name).then(({ samples }) => samples.map((s) => (
      { index: s.index, label: s.label, class: s.class, pixels: decodeSample(s) }))));
  }
  try {
    const samples = await samplesOf.get(name);
    if (state.datasetName !== name) return; // switched again meanwhile
    state.samples = samples;
    renderSamples($("samples"), samples, (s) => pad.loadSample(s));
    if (autoload && pad.showsNothingOwn() && samples.length) pad.loadSample(samples[0], true);
  } catch (err) {
    samplesOf.delete(name);
    $("samples").replaceChildren(el("p", { className: "muted small" }, `Samples unavailable: ${err.message}`));
  }
}

document.addEventListener("keydown", (e) => {
  const typing = e.target.closest && e.target.closest("input, select, textarea");
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z" && !typing) {
    e.preventDefault();
    pad.undo();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "Escape") {
    if (inspect.open) focus.select(null);
  } else if (e.key === "r" || e.key === "R") {
    view.fit(false);
  } else if (e.key === "f" || e.key === "F") {
    models.toggleLayout();
  }
});

async function boot() {
  paintLegend($("legend-bar"));
  paintHeatLegend($("legend-heat-bar"));
  if (view.error) showViewMessage(`The 3D view needs WebGL2 (${view.error}). The flat feature maps below still work.`);
  let answer;
  try {
    const [known, served] = await Promise.all([api.getDatasets(), api.getModels()]);
    datasets.list(known);
    answer = served;
  } catch (err) {
    result.status(`Cannot load the list of networks: ${err.message}`, "error");
    return;
  }
  models.list(answer, share.linkedDataset());
  await showSamples(state.datasetName, false);
  const restored = share.restore();
  if (!restored && pad.isBlank() && !state.source && state.samples.length) pad.loadSample(state.samples[0], true);
  state.booted = true;
}

boot();
