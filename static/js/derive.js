/* Layers the page computes instead of asking for them (issue 18): the input from an answer's
   `input` rows centred as model/inputs.py fit_input does, a max pool from the layer before it
   (Saito ch. 7.3; padding never wins, model/layers.py MaxPooling), an identity as its input. */

import { decodeLayer } from "./codec.js";
import { inputName, poolReduce, windowCell, windowOf } from "./geometry.js";

const INPUT = "input";

/**
 * Whether a layer's output is a function of the layer before it that the page can compute
 * exactly: uint8 quantisation is monotonic, so the max of the shown values is within half a
 * quantisation step of the true max (an average would not be). A layer with units switched off
 * (`off`: [{layer, index}]) is masked by the server (model/ablation.py), so it is asked for.
 */
function derivable(layer, off) {
  if (off.some((u) => u.layer === layer.name)) return false;
  return layer.role === "identity" || (layer.role === "pooling" && poolReduce(layer) === "max");
}

/**
 * The layers to ask the server for so that its answer, with what `deriveLayers` adds, holds every
 * layer named in `needed` ("input" and names of `model.layers`): those that cannot be derived
 * from a needed layer before them, in network order. `model` is an /api/models entry.
 */
export function layersToAsk(model, needed, off = []) {
  const want = new Set(needed);
  return model.layers
    .filter((layer, i) => want.has(layer.name) && !(derivable(layer, off) && want.has(inputName(model.layers, i))))
    .map((layer) => layer.name);
}

function ranged(name, kind, shape, values) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { name, kind, shape, min: values.length ? min : 0, max: values.length ? max : 0, values };
}

/** The network's input (C=1, H, W) from 28×28 rows, the rows centred and zeros around them. */
function inputLayer(rows, shape) {
  const [, H, W] = shape;
  const h = rows.length;
  const w = rows[0].length;
  const top = Math.floor((H - h) / 2);
  const left = Math.floor((W - w) / 2);
  const values = new Float32Array(H * W);
  for (let r = 0; r < h; r++) values.set(rows[r], (top + r) * W + left);
  return ranged(INPUT, INPUT, shape.slice(), values);
}

/** Max pooling of `from` (C, H, W) → (C, OH, OW) as `layer`'s window says. */
function maxPool(layer, from) {
  const shape = layer.output_shape.slice();
  // windowOf reads a display group's head and shape (netmodel.js): this layer as its own group
  const group = { head: layer, shape, isMaps: true };
  const values = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let index = 0; index < values.length; index++) {
    const win = windowOf(group, from, index);
    let best = -Infinity;
    for (let ky = 0; ky < win.k; ky++) {
      for (let kx = 0; kx < win.k; kx++) {
        const cell = windowCell(win, from, win.channel, ky, kx);
        if (cell >= 0 && from.values[cell] > best) best = from.values[cell];
      }
    }
    values[index] = best;
  }
  return ranged(layer.name, layer.kind, shape, values);
}

/**
 * `layers` (a Map name → decoded layer, codec.js) completed with every layer derivable from it:
 * the input layer from `rows` (an answer's `input`), then in network order each derivable layer
 * whose input layer is there. `model`: {input_shape, layers} as /api/models (or a run) has them;
 * `off`: the units switched off when the answer was asked for.
 */
export function deriveLayers(layers, rows, model, off = []) {
  if (!model?.layers?.length || model.input_shape?.length !== 3) return layers;
  if (!layers.has(INPUT) && rows?.length) layers.set(INPUT, inputLayer(rows, model.input_shape));
  model.layers.forEach((layer, i) => {
    const from = layers.get(inputName(model.layers, i));
    if (layers.has(layer.name) || !from || !derivable(layer, off)) return;
    layers.set(layer.name, layer.role === "identity"
      ? ranged(layer.name, layer.kind, layer.output_shape.slice(), from.values.slice())
      : maxPool(layer, from));
  });
  return layers;
}

/** An /api/activations (or a run's) answer's layers, decoded and completed (deriveLayers). */
export function answerLayers(answer, model, off = []) {
  const layers = new Map();
  for (const l of answer.layers || []) layers.set(l.name, decodeLayer(l));
  return deriveLayers(layers, answer.input, model, off);
}
