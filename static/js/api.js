/* The only module that talks to the server (the cnnvis REST API under /api). */

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return JSON.stringify(detail);
}

async function request(path, options = {}) {
  let res;
  try {
    res = await fetch(path, options);
  } catch (err) {
    if (err.name === "AbortError") throw err; // the caller gave up on it (latest.js)
    throw new ApiError(0, "the server cannot be reached");
  }
  let body;
  try {
    body = await res.json();
  } catch (err) {
    if (err.name === "AbortError") throw err;
    body = null;
  }
  if (!res.ok) {
    const detail = body && body.detail !== undefined ? detailText(body.detail) : res.statusText;
    throw new ApiError(res.status, detail || `HTTP ${res.status}`);
  }
  return body;
}

function postJson(path, body, { headers = {}, signal } = {}) {
  return request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal,
  });
}

/** The header marking a live preview, which a busy server serves after every other request. */
const PREVIEW = { "Cnnvis-Preview": "1" };

/** The `ablate` field for units switched off ([{layer, index}]), left out when there are none. */
const switchedOff = (ablate) => (ablate && ablate.length ? { ablate } : {});

/** GET /api/models → {default, models: [...]} */
export const getModels = () => request("/api/models");

/** GET /api/samples?dataset= → {dataset, samples: [{index, label, class, encoding, data}]} */
export const getSamples = (dataset) => request(`/api/samples?dataset=${encodeURIComponent(dataset)}`);

/** GET /api/datasets → {default, datasets: [{name, title, classes, noun, plural, models, …}]} */
export const getDatasets = () => request("/api/datasets");

/**
 * POST /api/activations: prediction plus every layer's output, or only those named in `layers`.
 * `input` is {image: dataURL} or {pixels: 28×28 nested array}; `preview` marks a live update
 * while a stroke is drawn; `signal` aborts the request.
 */
export const activations = (model, input, ablate = [], layers = null, { preview = false, signal } = {}) =>
  postJson("/api/activations", { model, ...input, ...switchedOff(ablate), ...(layers ? { layers } : {}) },
    { headers: preview ? PREVIEW : {}, signal });

/**
 * POST /api/compare: the answer of every served model of `dataset` for one input (with `ablate`
 * units off in the models that have them).
 */
export const compare = (input, dataset, ablate = []) =>
  postJson("/api/compare", { ...input, dataset, ...switchedOff(ablate) });

/** POST /api/predict: the label and ten probabilities only (a replay's chart, replay.js). */
export const predict = (model, input) => postJson("/api/predict", { model, ...input });

/** POST /api/predict/file: classify an uploaded image file. */
export function predictFile(file, model) {
  const form = new FormData();
  form.append("file", file);
  if (model) form.append("model", model);
  return request("/api/predict/file", { method: "POST", body: form });
}

/** GET /api/models/{name}/filters → {shape: [F, C, KH, KW], min, max, encoding, data} */
export const getFilters = (model, layer, state) =>
  request(`/api/models/${encodeURIComponent(model)}/filters?layer=${encodeURIComponent(layer)}` +
    `&state=${encodeURIComponent(state)}`);

/** GET /api/models/{name}/params/{param} → {shape, min, max, encoding, data} */
export const getParam = (model, param) =>
  request(`/api/models/${encodeURIComponent(model)}/params/${encodeURIComponent(param)}`);

/** GET /api/models/{name} → the summary plus history, confusion_matrix, per_class_accuracy, training */
export const getModel = (model) => request(`/api/models/${encodeURIComponent(model)}`);

/** GET /api/models/{name}/misclassified → {model, test_size, digits: [...]} (404: none shipped) */
export const getMisclassified = (model) =>
  request(`/api/models/${encodeURIComponent(model)}/misclassified`);

/**
 * POST /api/explain: a saliency, Grad-CAM or occlusion map. `options` holds `method` and its
 * fields (`layer`; `patch`, `stride`) and an optional `target`.
 */
export const explain = (model, input, options) =>
  postJson("/api/explain", { model, ...input, ...options });

/** POST /api/im2col: a conv layer as one matrix product, or a pooling layer's windows. */
export const im2col = (model, input, layer) =>
  postJson("/api/im2col", { model, ...input, layer });

/**
 * POST /api/unit: one unit's exact inputs, weights, Σ w·x, bias and output (float32) for
 * `layer` and the flat `index` of the unit in its output.
 */
export const unit = (model, input, layer, index) =>
  postJson("/api/unit", { model, ...input, layer, index });

/** POST /api/robustness: the drawing transformed ({dx, dy, angle, scale, thickness, target?}). */
export const robustness = (model, input, transform) =>
  postJson("/api/robustness", { model, ...input, ...transform });

/** POST /api/preprocess: each step from a drawn image (data URL) to the 28×28 input, the way of
    `dataset` (its `preprocessing`). */
export const preprocess = (image, dataset) => postJson("/api/preprocess", { image, dataset });

// ----- training runs (issue 15) -----------------------------------------------------------------

const runPath = (id) => `/api/runs/${encodeURIComponent(id)}`;

/** GET /api/runs/options → every trainable architecture, defaults, limits, optimizers. */
export const runOptions = () => request("/api/runs/options");

/** GET /api/runs → {runs: [...]} newest first (the run object: app/routers/runs.py). */
export const listRuns = () => request("/api/runs");

/** GET /api/runs/{id} → the run. */
export const getRun = (id) => request(runPath(id));

/** POST /api/runs: start training `config` ({arch, epochs, optimizer, lr, train_size, augment, …}) → the run (202). */
export const startRun = (config) => postJson("/api/runs", config);

/** DELETE /api/runs/{id}: cancel a queued or running run; delete a finished one with its model. */
export const deleteRun = (id) => request(runPath(id), { method: "DELETE" });

/** GET /api/runs/{id}/params/{name}?step=: one parameter under the weights kept at (or before) `step`. */
export const runParam = (id, step, name) =>
  request(`${runPath(id)}/params/${encodeURIComponent(name)}?step=${encodeURIComponent(step)}`);

/** POST /api/runs/{id}/activations: /api/activations under the weights kept at (or before) `step`. */
export const runActivations = (id, step, input) =>
  postJson(`${runPath(id)}/activations`, { ...input, step });

const RUN_EVENTS = ["progress", "snapshot", "epoch"];
const RUN_ENDS = ["done", "failed", "cancelled"];

/**
 * Follow GET /api/runs/{id}/events (Server-Sent Events). `on` maps event names (progress,
 * snapshot, epoch, and the final done, failed or cancelled) to handlers of the event's JSON; the
 * stream closes after the final event. The browser reconnects by itself with Last-Event-ID, so a
 * dropped connection loses nothing; `onLost(message)` says when it has given up. Returns close().
 */
export function runEvents(id, on, onLost) {
  const source = new EventSource(`${runPath(id)}/events`);
  for (const name of RUN_EVENTS) {
    source.addEventListener(name, (e) => on[name]?.(JSON.parse(e.data)));
  }
  for (const name of RUN_ENDS) {
    source.addEventListener(name, (e) => {
      source.close();
      on[name]?.(JSON.parse(e.data));
    });
  }
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) onLost("the run's event stream could not be opened");
  });
  return () => source.close();
}

/** POST /api/neighbors: the k nearest training digits, the map position and the atypical flag. */
export const neighbors = (model, input, k) => postJson("/api/neighbors", { model, ...input, k });

/** GET /api/models/{name}/map: the training digits' map points (base64 float16 pairs). */
export const getMap = (model) => request(`/api/models/${encodeURIComponent(model)}/map`);

/** GET /api/models/{name}/digits/{index}: one reference digit (uint8 784 bytes, base64). */
export const getDigit = (model, index) =>
  request(`/api/models/${encodeURIComponent(model)}/digits/${index}`);

/** POST /api/counterfactual: the least change read as `target` ({epsilon?, add_only?}). */
export const counterfactual = (model, input, target, options = {}) =>
  postJson("/api/counterfactual", { model, ...input, target, ...options });

// ----- what a unit means (issue 16) -------------------------------------------------------------

const unitsPath = (model, layer) =>
  `/api/models/${encodeURIComponent(model)}/units/${encodeURIComponent(layer)}`;

/** GET /api/models/{name}/units/{layer} → every unit's best test digit (a PNG sprite) and shipped ideal input. */
export const getUnitLayer = (model, layer) => request(unitsPath(model, layer));

/** GET /api/models/{name}/units/{layer}/{index} → its 9 top test digits, ideal input and value percentiles. */
export const getUnit = (model, layer, index) => request(`${unitsPath(model, layer)}/${index}`);

/** POST /api/units/rank: the target's probability with each unit of `layer` switched off alone. */
export const rankUnits = (model, input, layer) => postJson("/api/units/rank", { model, ...input, layer });
