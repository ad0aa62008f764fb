/* Layer structure as the server describes it (/api/models: each layer's `role` and `window`):
   where a unit sits, which input cells a conv or pooling window reads (Saito ch. 7.2), and
   which parameters a layer needs. The one front-end module that knows how layers connect. */

export const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

/** {channel, y, x, i} of unit `index` of a group of maps, or {channel: null, i} for vectors. */
export function unitCoords(group, index) {
  if (!group.isMaps) return { channel: null, y: null, x: null, i: index };
  const [, h, w] = group.shape;
  const channel = Math.floor(index / (h * w));
  const r = index - channel * h * w;
  return { channel, y: Math.floor(r / w), x: r % w, i: index };
}

/** The name of the layer whose output layer `i` of `layers` (/api/models order) reads: the one
    before it, or "input" for the first (the networks are sequential, model/networks.py). */
export const inputName = (layers, i) => (i > 0 ? layers[i - 1].name : "input");

/** A conv layer: weighted, reading a window of every input channel. */
export const isConv = (layer) => layer.role === "weighted" && layer.window !== null;

/** A fully connected layer: weighted, reading every input. */
export const isDense = (layer) => layer.role === "weighted" && layer.window === null;

/** How a pooling layer reduces its window: "max" (one winner) or "mean". */
export const poolReduce = (layer) => (layer.kind === "maxpool" ? "max" : "mean");

/** Parameter names a group's head needs to show its connections ([] if none). */
export function neededParams(group) {
  const name = group.head.name;
  return group.head.role === "weighted" ? [`${name}.weight`, `${name}.bias`] : [];
}

/**
 * The window unit `index` of a windowed group reads from `prev`: {channel, k, rows, cols,
 * rowStart, colStart}, rows/cols holding the input rows and columns it covers (-1 on padding).
 */
export function windowOf(group, prev, index) {
  const { kernel: k, stride, padding } = group.head.window;
  const [, H, W] = prev.shape;
  const { channel, y, x } = unitCoords(group, index);
  const rowStart = y * stride - padding;
  const colStart = x * stride - padding;
  const rows = new Int32Array(k);
  const cols = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    rows[j] = rowStart + j >= 0 && rowStart + j < H ? rowStart + j : -1;
    cols[j] = colStart + j >= 0 && colStart + j < W ? colStart + j : -1;
  }
  return { channel, k, rows, cols, rowStart, colStart };
}

/** Flat index into `prev` of window cell (ky, kx) in input channel c, or -1 on padding. */
export function windowCell(win, prev, c, ky, kx) {
  const [, H, W] = prev.shape;
  const r = win.rows[ky];
  const col = win.cols[kx];
  return r < 0 || col < 0 ? -1 : c * H * W + r * W + col;
}

/**
 * The layer whose units a layer's values are (issue 16): the layer itself when it is weighted or
 * pools, else the nearest such layer before it with an output of the same rank (an activation,
 * normalisation or dropout keeps its units); null for the input or when there is none.
 */
export function unitLayerOf(layers, name) {
  let i = layers.findIndex((l) => l.name === name);
  if (i < 0) return null;
  const rank = layers[i].output_shape.length;
  for (; i >= 0; i--) {
    const l = layers[i];
    if (l.output_shape.length !== rank) return null;
    if (l.role === "weighted" || l.role === "pooling") return l.name;
  }
  return null;
}

/** The unit (a channel of maps, or a vector's entry) that flat `index` of a group belongs to. */
export const unitOf = (group, index) => (group.isMaps ? unitCoords(group, index).channel : index);
