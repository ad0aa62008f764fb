/* Which units of the previous group feed a unit, and with which weights: a conv unit sees a
   K×K window in every input channel (Saito ch. 7.2), a pool unit a window in its own channel,
   an affine unit every input. Pure functions over decoded arrays. */

/** Parameter names a group's head needs for its connections ([] if none). */
export function neededParams(group) {
  if (group.kind === "conv" || group.kind === "affine") {
    return [`${group.head.name}.weight`, `${group.head.name}.bias`];
  }
  return [];
}

/**
 * Window geometry of a conv or pool unit: the input rows/cols it reads, -1 where it reads padding.
 * Returns {rows: Int32Array(K), cols: Int32Array(K)}.
 */
export function windowRange(k, stride, pad, oy, ox, h, w) {
  const rows = new Int32Array(k);
  const cols = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    const iy = oy * stride - pad + j;
    const ix = ox * stride - pad + j;
    rows[j] = iy >= 0 && iy < h ? iy : -1;
    cols[j] = ix >= 0 && ix < w ? ix : -1;
  }
  return { rows, cols };
}

function unitPos(group, index) {
  const [, h, w] = group.shape;
  const c = Math.floor(index / (h * w));
  const r = index - c * h * w;
  return { c, oy: Math.floor(r / w), ox: r % w };
}

/**
 * Incoming connections of unit `index` of `group` from `prev`.
 * `params` is {weight, bias} (decoded) for conv/affine heads, `prevValues` the previous group's
 * shown values (a max-pool winner gets weight 1, the rest of its window 0.25). Returns
 * {indices: Int32Array, weights: Float32Array} or null when the connections are unknown.
 */
export function incoming(group, prev, index, params, prevValues) {
  const h = group.head.hyperparams || {};
  switch (group.kind) {
    case "conv": return params ? convIncoming(group, prev, index, h, params.weight) : null;
    case "maxpool":
    case "avgpool": return poolIncoming(group, prev, index, h, prevValues);
    case "affine": return params ? affineIncoming(group, prev, index, params.weight) : null;
    case "lrn": return lrnIncoming(group, index, h);
    case "relu":
    case "tanh":
    case "sigmoid":
    case "flatten":
    case "dropout":
      return { indices: Int32Array.of(index), weights: Float32Array.of(1) };
    default: return null;
  }
}

function convIncoming(group, prev, index, h, weight) {
  const [C, H, W] = prev.shape;
  const k = h.kernel_size;
  const { c: f, oy, ox } = unitPos(group, index);
  const { rows, cols } = windowRange(k, h.stride, h.pad, oy, ox, H, W);
  const indices = [];
  const weights = [];
  for (let c = 0; c < C; c++) {
    for (let ky = 0; ky < k; ky++) {
      if (rows[ky] < 0) continue;
      for (let kx = 0; kx < k; kx++) {
        if (cols[kx] < 0) continue;
        indices.push(c * H * W + rows[ky] * W + cols[kx]);
        weights.push(weight.values[((f * C + c) * k + ky) * k + kx]);
      }
    }
  }
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}

function poolIncoming(group, prev, index, h, prevValues) {
  const [, H, W] = prev.shape;
  const k = h.pool_size;
  const { c, oy, ox } = unitPos(group, index);
  const { rows, cols } = windowRange(k, h.stride, h.pad, oy, ox, H, W);
  const indices = [];
  for (let ky = 0; ky < k; ky++) {
    if (rows[ky] < 0) continue;
    for (let kx = 0; kx < k; kx++) {
      if (cols[kx] >= 0) indices.push(c * H * W + rows[ky] * W + cols[kx]);
    }
  }
  let winner = -1;
  if (group.kind === "maxpool" && prevValues) {
    let best = -Infinity;
    for (const i of indices) if (prevValues[i] > best) { best = prevValues[i]; winner = i; }
  }
  const weights = indices.map((i) =>
    group.kind === "avgpool" ? 1 / (k * k) : (winner < 0 || i === winner ? 1 : 0.25));
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}

function affineIncoming(group, prev, index, weight) {
  const [d, out] = weight.shape;
  const indices = new Int32Array(d);
  const weights = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    indices[i] = i;
    weights[i] = weight.values[i * out + index];
  }
  return { indices, weights };
}

function lrnIncoming(group, index, h) {
  const [C, H, W] = group.shape;
  const { c } = unitPos(group, index);
  const half = Math.floor((h.size || 5) / 2);
  const indices = [];
  const weights = [];
  for (let j = Math.max(0, c - half); j <= Math.min(C - 1, c + half); j++) {
    indices.push(index + (j - c) * H * W);
    weights.push(j === c ? 1 : 0.3);
  }
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}
