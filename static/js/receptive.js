/* Which units of the previous group feed a unit, and with which weights: a conv unit sees a
   K×K window in every input channel (Saito ch. 7.2), a pool unit a window in its own channel,
   a dense unit every input, an across-channel normalisation its neighbouring maps. Chosen by
   each layer's role (geometry.js); pure functions over decoded arrays. */

import { isConv, poolReduce, unitCoords, windowCell, windowOf } from "./geometry.js";

/**
 * Incoming connections of unit `index` of `group` from `prev`.
 * `params` is {weight, bias} (decoded) for weighted heads, `prevValues` the previous group's
 * shown values (a max-pool winner gets weight 1, the rest of its window 0.25). Returns
 * {indices: Int32Array, weights: Float32Array} or null when the connections are unknown.
 */
export function incoming(group, prev, index, params, prevValues) {
  const head = group.head;
  switch (head.role) {
    case "weighted":
      if (!params) return null;
      return isConv(head) ? convIncoming(group, prev, index, params.weight)
        : denseIncoming(index, params.weight);
    case "pooling": return poolIncoming(group, prev, index, prevValues);
    case "normalisation": return acrossChannels(group, index, head.hyperparams?.size);
    case "activation":
    case "identity":
      return { indices: Int32Array.of(index), weights: Float32Array.of(1) };
    default: return null;
  }
}

function convIncoming(group, prev, index, weight) {
  const C = prev.shape[0];
  const win = windowOf(group, prev, index);
  const { k, channel: f } = win;
  const indices = [];
  const weights = [];
  for (let c = 0; c < C; c++) {
    for (let ky = 0; ky < k; ky++) {
      for (let kx = 0; kx < k; kx++) {
        const i = windowCell(win, prev, c, ky, kx);
        if (i < 0) continue;
        indices.push(i);
        weights.push(weight.values[((f * C + c) * k + ky) * k + kx]);
      }
    }
  }
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}

function poolIncoming(group, prev, index, prevValues) {
  const win = windowOf(group, prev, index);
  const { k } = win;
  const indices = [];
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) {
      const i = windowCell(win, prev, win.channel, ky, kx);
      if (i >= 0) indices.push(i);
    }
  }
  const max = poolReduce(group.head) === "max";
  let winner = -1;
  if (max && prevValues) {
    let best = -Infinity;
    for (const i of indices) if (prevValues[i] > best) { best = prevValues[i]; winner = i; }
  }
  const weights = indices.map((i) =>
    !max ? 1 / (k * k) : (winner < 0 || i === winner ? 1 : 0.25));
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}

function denseIncoming(index, weight) {
  const [d, out] = weight.shape;
  const indices = new Int32Array(d);
  const weights = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    indices[i] = i;
    weights[i] = weight.values[i * out + index];
  }
  return { indices, weights };
}

/** The same position in the `size` nearest maps (LRN's neighbourhood); one-to-one without maps. */
function acrossChannels(group, index, size) {
  if (!group.isMaps || !size) return { indices: Int32Array.of(index), weights: Float32Array.of(1) };
  const [C, H, W] = group.shape;
  const c = unitCoords(group, index).channel;
  const half = Math.floor(size / 2);
  const indices = [];
  const weights = [];
  for (let j = Math.max(0, c - half); j <= Math.min(C - 1, c + half); j++) {
    indices.push(index + (j - c) * H * W);
    weights.push(j === c ? 1 : 0.3);
  }
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}
