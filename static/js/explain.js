/* A unit's computation, step by step, from the shown activations and the layer's weights, or
   exactly from the server's /api/unit answer: conv Σ w·x + b over its window (Saito ch. 7.2),
   the pool window and its winner, a dense unit's largest contributions, then every merged
   activation. Chosen by each layer's role (geometry.js); pure functions. */

import { isConv, isDense, poolReduce, unitCoords, windowCell, windowOf } from "./geometry.js";
import { groupOutput } from "./netmodel.js";

const TOP_DENSE = 10;
const TOP_CHANNELS = 6;

/**
 * Everything the inspect panel shows for unit `index` of group `gi`.
 * `layers` maps layer name → decoded output; `params` is {weight, bias} or null.
 */
export function explainUnit(groups, gi, index, layers, params, probabilities) {
  const group = groups[gi];
  const prev = gi > 0 ? groups[gi - 1] : null;
  const headOut = layers.get(group.head.name);
  const out = {
    coords: unitCoords(group, index),
    value: groupOutput(group, layers)?.values[index],
    headValue: headOut?.values[index],
    chain: chainOf(group, index, layers),
    kind: group.kind,
  };
  if (group.isOutput && probabilities) out.probability = probabilities[index];
  if (!prev) return out;
  const x = groupOutput(prev, layers)?.values;
  if (!x) return out;
  const head = group.head;
  if (isConv(head)) {
    if (params) Object.assign(out, conv(group, prev, index, x, params));
  } else if (isDense(head)) {
    if (params) Object.assign(out, dense(prev, index, x, params));
  } else if (head.role === "pooling") {
    Object.assign(out, pool(group, prev, index, x));
  } else {
    out.inputValue = x[index];
  }
  out.prevTitle = prev.title;
  return out;
}

/**
 * The same for the group's head computed exactly by the server: `a` is the /api/unit answer
 * for the head layer and this unit (float32 values; the sum and z as the server computed them).
 */
export function explainExact(groups, gi, index, a, probabilities) {
  const group = groups[gi];
  const prev = groups[gi - 1];
  const after = new Map(a.after.map((f) => [f.name, f.value]));
  const chain = chainLayers(group).map((l) => ({ name: l.name, kind: l.kind, value: after.get(l.name) }));
  const last = group.layers.slice(1).reverse().find((l) => after.has(l.name));
  const out = {
    exact: true,
    coords: unitCoords(group, index),
    value: last ? after.get(last.name) : a.output,
    headValue: a.output,
    chain,
    kind: group.kind,
    prevTitle: prev.title,
  };
  if (group.isOutput && probabilities) out.probability = probabilities[index];
  const x = Float32Array.from(a.inputs);
  const head = group.head;
  if (isConv(head)) {
    const [C, k] = a.input_shape;
    const w = Float32Array.from(a.weights);
    const win = windowOf(group, prev, index);
    const channels = [];
    for (let c = 0; c < C; c++) {
      const patch = new Float32Array(k * k);
      const kernel = w.subarray(c * k * k, (c + 1) * k * k);
      let sum = 0;
      for (let j = 0; j < k * k; j++) {
        patch[j] = a.padding[j] ? NaN : x[c * k * k + j];
        if (!a.padding[j]) sum += patch[j] * kernel[j];
      }
      channels.push({ c, patch, kernel, sum });
    }
    const ranked = channels.slice().sort((p, q) => Math.abs(q.sum) - Math.abs(p.sum));
    Object.assign(out, {
      k, inChannels: C, channels: ranked.slice(0, TOP_CHANNELS), sum: a.sum, bias: a.bias, z: a.output,
      terms: C * k * k, rowStart: win.rowStart, colStart: win.colStart,
    });
  } else if (isDense(head)) {
    const column = { weight: { shape: [x.length, 1], values: Float32Array.from(a.weights) }, bias: { values: [a.bias] } };
    const d = dense(prev, 0, x, column);
    const topSum = d.top.reduce((s, t) => s + t.c, 0);
    Object.assign(out, d, { sum: a.sum, rest: a.sum - topSum, bias: a.bias, z: a.output });
  } else if (head.role === "pooling") {
    const win = windowOf(group, prev, index);
    const k = win.k;
    const cells = Float32Array.from(x, (v, j) => (a.padding[j] ? NaN : v));
    Object.assign(out, {
      k, cells, winner: a.winner ?? -1, pooled: a.output, rowStart: win.rowStart, colStart: win.colStart,
    });
  } else {
    out.inputValue = x[0];
  }
  return out;
}

/** The layers merged after the head, in order (a reshape adds nothing). */
function chainLayers(group) {
  return group.layers.slice(1)
    .filter((l) => l.role !== "identity" || l.output_shape.length === group.head.output_shape.length);
}

/** The layers merged after the head with the unit's value after each: [{name, kind, value}]. */
function chainOf(group, index, layers) {
  return chainLayers(group).map((l) => ({ name: l.name, kind: l.kind, value: layers.get(l.name)?.values[index] }));
}

function conv(group, prev, index, x, params) {
  const C = prev.shape[0];
  const win = windowOf(group, prev, index);
  const { k, channel: f } = win;
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
        const i = windowCell(win, prev, c, ky, kx);
        const xv = i >= 0 ? x[i] : NaN;
        patch[ky * k + kx] = xv;
        if (i >= 0) sum += wv * xv;
      }
    }
    total += sum;
    channels.push({ c, patch, kernel, sum });
  }
  const bias = params.bias.values[f];
  const ranked = channels.slice().sort((a, b) => Math.abs(b.sum) - Math.abs(a.sum));
  return {
    k, inChannels: C, channels: ranked.slice(0, TOP_CHANNELS), sum: total, bias, z: total + bias,
    terms: C * k * k, rowStart: win.rowStart, colStart: win.colStart,
  };
}

function pool(group, prev, index, x) {
  const win = windowOf(group, prev, index);
  const { k } = win;
  const cells = new Float32Array(k * k);
  let winner = -1;
  let best = -Infinity;
  let sum = 0;
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) {
      const i = windowCell(win, prev, win.channel, ky, kx);
      const v = i >= 0 ? x[i] : NaN;
      cells[ky * k + kx] = v;
      if (i >= 0) {
        sum += v;
        if (v > best) { best = v; winner = ky * k + kx; }
      }
    }
  }
  const max = poolReduce(group.head) === "max";
  return {
    k, cells, winner: max ? winner : -1, pooled: max ? best : sum / (k * k),
    rowStart: win.rowStart, colStart: win.colStart,
  };
}

function dense(prev, index, x, params) {
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
  const top = order.slice(0, TOP_DENSE).map((i) => ({
    i, x: x[i], w: w[i * outF + index], c: contrib[i], where: unitCoords(prev, i),
  }));
  const topSum = top.reduce((a, t) => a + t.c, 0);
  const bias = params.bias.values[index];
  return { fanIn: d, active, top, rest: sum - topSum, sum, bias, z: sum + bias };
}
