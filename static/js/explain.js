/* A unit's computation, step by step, from the shown activations and the layer's weights:
   conv Σ w·x + b over its window (Saito ch. 7.2), the pool window and its winner, an affine
   unit's largest contributions, then every merged activation. Pure functions. */

import { windowRange } from "./receptive.js";
import { groupOutput, unitCoords } from "./netmodel.js";

const TOP_AFFINE = 10;
const TOP_CHANNELS = 6;

/**
 * Everything the inspect panel shows for unit `index` of group `gi`.
 * `layers` maps layer name → decoded output; `params` is {weight, bias} or null.
 */
export function explainUnit(groups, gi, index, layers, params, probabilities) {
  const group = groups[gi];
  const prev = gi > 0 ? groups[gi - 1] : null;
  const head = layers.get(group.head.name);
  const out = {
    coords: unitCoords(group, index),
    value: groupOutput(group, layers)?.values[index],
    headValue: head?.values[index],
    chain: chainOf(group, index, layers),
    kind: group.kind,
  };
  if (group.isOutput && probabilities) out.probability = probabilities[index];
  if (!prev) return out;
  const x = groupOutput(prev, layers)?.values;
  if (!x) return out;
  const h = group.head.hyperparams || {};
  if (group.kind === "conv" && params) Object.assign(out, conv(group, prev, index, h, x, params));
  if (group.kind === "maxpool" || group.kind === "avgpool") Object.assign(out, pool(group, prev, index, h, x));
  if (group.kind === "affine" && params) Object.assign(out, affine(prev, index, x, params));
  if (!["conv", "affine", "maxpool", "avgpool"].includes(group.kind)) out.inputValue = x[index];
  out.prevTitle = prev.title;
  return out;
}

/** The activations after the head, in order: [{name, kind, value}]. */
function chainOf(group, index, layers) {
  return group.layers.slice(1)
    .filter((l) => l.kind !== "flatten")
    .map((l) => ({ name: l.name, kind: l.kind, value: layers.get(l.name)?.values[index] }));
}

function conv(group, prev, index, h, x, params) {
  const [C, H, W] = prev.shape;
  const k = h.kernel_size;
  const { channel: f, y: oy, x: ox } = unitCoords(group, index);
  const { rows, cols } = windowRange(k, h.stride, h.pad, oy, ox, H, W);
  const w = params.weight.values;
  const channels = [];
  let total = 0;
  for (let c = 0; c < C; c++) {
    const patch = new Float32Array(k * k);
    const kernel = new Float32Array(k * k);
    let sum = 0;
    for (let ky = 0; ky < k; ky++) {
      for (let kx = 0; kx < k; kx++) {
        const wv = w[((f * C + c) * k + ky) * k + kx];
        kernel[ky * k + kx] = wv;
        const inside = rows[ky] >= 0 && cols[kx] >= 0;
        const xv = inside ? x[c * H * W + rows[ky] * W + cols[kx]] : NaN;
        patch[ky * k + kx] = xv;
        if (inside) sum += wv * xv;
      }
    }
    total += sum;
    channels.push({ c, patch, kernel, sum });
  }
  const bias = params.bias.values[f];
  const ranked = channels.slice().sort((a, b) => Math.abs(b.sum) - Math.abs(a.sum));
  return {
    k, inChannels: C, channels: ranked.slice(0, TOP_CHANNELS), sum: total, bias, z: total + bias,
    terms: C * k * k, rowStart: oy * h.stride - h.pad, colStart: ox * h.stride - h.pad,
  };
}

function pool(group, prev, index, h, x) {
  const [, H, W] = prev.shape;
  const k = h.pool_size;
  const { channel: c, y: oy, x: ox } = unitCoords(group, index);
  const { rows, cols } = windowRange(k, h.stride, h.pad, oy, ox, H, W);
  const cells = new Float32Array(k * k);
  let winner = -1;
  let best = -Infinity;
  let sum = 0;
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) {
      const inside = rows[ky] >= 0 && cols[kx] >= 0;
      const v = inside ? x[c * H * W + rows[ky] * W + cols[kx]] : NaN;
      cells[ky * k + kx] = v;
      if (inside) {
        sum += v;
        if (v > best) { best = v; winner = ky * k + kx; }
      }
    }
  }
  return { k, cells, winner: group.kind === "maxpool" ? winner : -1, pooled: group.kind === "maxpool" ? best : sum / (k * k), rowStart: oy * h.stride - h.pad, colStart: ox * h.stride - h.pad };
}

function affine(prev, index, x, params) {
  const [d, outF] = params.weight.shape;
  const w = params.weight.values;
  const contrib = new Float32Array(d);
  let sum = 0;
  let active = 0;
  for (let i = 0; i < d; i++) {
    contrib[i] = x[i] * w[i * outF + index];
    sum += contrib[i];
    if (x[i] !== 0) active++;
  }
  const order = Array.from(contrib.keys()).sort((a, b) => Math.abs(contrib[b]) - Math.abs(contrib[a]));
  const top = order.slice(0, TOP_AFFINE).map((i) => ({
    i, x: x[i], w: w[i * outF + index], c: contrib[i], where: unitCoords(prev, i),
  }));
  const topSum = top.reduce((a, t) => a + t.c, 0);
  const bias = params.bias.values[index];
  return { fanIn: d, active, top, rest: sum - topSum, sum, bias, z: sum + bias };
}
