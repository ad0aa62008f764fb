/* Where every unit sits. Each group is a plane of feature maps tiled in a grid (or a square of
   units for vectors). In 3D the planes stand across the x axis, stacked in depth in forward
   order; flat, they lie side by side facing the camera. Pure geometry, no drawing. */

import { clamp } from "./geometry.js";

const INPUT_EXTENT = 120; // world size of the input image
// World size of one 28×28 map in a plane of several; smaller maps shrink sub-linearly (a gentle
// funnel) so a 4×4 map is still about half as wide and stays legible next to the input.
const MAP_WORLD = 30;
const MAP_FUNNEL = 0.3;
const VEC_TARGET = 54;
const OUTPUT_PITCH = 18; // the output units stand far enough apart to label each one
const FLAT_GAP = 26;
const LABEL_ROOM = 18;
const ROW_GAP = 24;

/** Grid of one group in cells: channel tiling for maps, a column or square for vectors. */
function grid(group) {
  if (group.isMaps) {
    const [C, H, W] = group.shape;
    const gap = C === 1 ? 0 : Math.max(1, Math.round(W * 0.15));
    const cols = Math.ceil(Math.sqrt((C * (H + gap)) / (W + gap)));
    const rows = Math.ceil(C / cols);
    const cellsW = cols * (W + gap) - gap;
    const cellsH = rows * (H + gap) - gap;
    // Every map gets room to be read, whatever its resolution: the cell pitch follows from
    // the map's own size, not from how many maps share the plane.
    const side = Math.max(H, W);
    const pitch = group.kind === "input" ? INPUT_EXTENT / side : (MAP_WORLD * (side / 28) ** MAP_FUNNEL) / side;
    return { C, H, W, gap, cols, rows, cellsW, cellsH, pitch, cell: 1, depth: 0, box: false };
  }
  const n = group.count;
  const W = n <= 16 ? 1 : Math.ceil(Math.sqrt(n));
  const H = Math.ceil(n / W);
  const pitch = group.isOutput ? OUTPUT_PITCH : clamp(VEC_TARGET / Math.max(W, H), 1.6, 6);
  return { C: 1, H, W, gap: 0, cols: 1, rows: 1, cellsW: W, cellsH: H, pitch, cell: 0.72, depth: 0.72, box: true,
    output: Boolean(group.isOutput) };
}

/** In-plane coordinates (u right, v up) of unit `i` relative to the plane's centre. */
function unitUV(g, i) {
  const hw = g.H * g.W;
  const c = Math.floor(i / hw);
  const r = i - c * hw;
  const y = Math.floor(r / g.W);
  const x = r - y * g.W;
  const mc = c % g.cols;
  const mr = Math.floor(c / g.cols);
  const cx = mc * (g.W + g.gap) + x + 0.5;
  const cy = mr * (g.H + g.gap) + y + 0.5;
  return [(cx - g.cellsW / 2) * g.pitch, -(cy - g.cellsH / 2) * g.pitch];
}

/** Planes of every group, before they are placed: {visible, width, height, ...grid}. */
export function planes(groups, hidden) {
  return groups.map((group) => {
    const g = grid(group);
    return { ...g, visible: !hidden.has(group.head.name), count: group.count,
      width: g.cellsW * g.pitch, height: g.cellsH * g.pitch, x3: 0, y3: 0, xF: 0, yF: 0 };
  });
}

/**
 * Place the visible planes along x (3D), centred: consecutive planes stand `spread` times
 * their mean extent apart, plus a small constant so tiny planes do not touch; each climbs
 * `rise` world units per unit of x, so a long network can run up the view's diagonal.
 */
export function stack(geoms, spread, rise = 0) {
  const shown = geoms.filter((g) => g.visible);
  let x = 0;
  let prev = null;
  for (const g of shown) {
    const ext = Math.max(g.width, g.height);
    if (prev) x += 12 + (spread * (Math.max(prev.width, prev.height) + ext)) / 2;
    g.x3 = x;
    prev = g;
  }
  for (const g of shown) {
    g.x3 -= x / 2;
    g.y3 = g.x3 * rise;
  }
  return geoms;
}

/**
 * Geometry of every group. `hidden` is a Set of head-layer names left out (and closed up);
 * `aspect` (width / height of the view) decides how many rows the flat layout wraps into;
 * `spread` how far apart the 3D planes stand (see stack()).
 * Returns per group: {visible, pitch, width, height, x3, xF, yF, pos3, posF, size3, ...grid}.
 */
export function layoutGroups(groups, hidden, aspect = 1.6, spread = 0.6, rise = 0) {
  const geoms = stack(planes(groups, hidden), spread, rise);
  const shown = geoms.filter((g) => g.visible);
  flatRows(shown, aspect);
  let last = geoms.find((g) => g.visible) || geoms[0];
  for (const g of geoms) {
    if (g.visible) last = g;
    else Object.assign(g, { x3: last.x3, y3: last.y3, xF: last.xF, yF: last.yF });
    fill(g);
  }
  return geoms;
}

/** Wrap the flat layout into the number of rows whose overall shape best matches `aspect`. */
function flatRows(shown, aspect) {
  const total = shown.reduce((a, g) => a + g.width + FLAT_GAP, -FLAT_GAP);
  let best = null;
  for (let n = 1; n <= Math.min(4, shown.length); n++) {
    const rows = [[]];
    let width = 0;
    for (const g of shown) {
      const row = rows[rows.length - 1];
      if (row.length && width + g.width > total / n + 1 && rows.length < n) {
        rows.push([g]);
        width = g.width;
      } else {
        row.push(g);
        width += g.width + (row.length > 1 ? FLAT_GAP : 0);
      }
    }
    const widths = rows.map((r) => r.reduce((a, g) => a + g.width + FLAT_GAP, -FLAT_GAP));
    const heights = rows.map((r) => Math.max(...r.map((g) => g.height)) + LABEL_ROOM);
    const w = Math.max(...widths);
    const h = heights.reduce((a, b) => a + b, 0) + ROW_GAP * (rows.length - 1);
    const score = Math.abs(Math.log(w / h / aspect));
    if (!best || score < best.score - 0.05) best = { score, rows, widths, heights, h };
  }
  if (!best) return;
  let top = best.h / 2;
  best.rows.forEach((row, r) => {
    const centre = top - best.heights[r] / 2;
    let cursor = -best.widths[r] / 2;
    for (const g of row) {
      g.xF = cursor + g.width / 2;
      g.yF = centre - LABEL_ROOM / 2;
      cursor += g.width + FLAT_GAP;
    }
    top -= best.heights[r] + ROW_GAP;
  });
}

function fill(g) {
  g.pos3 = new Float32Array(g.count * 3);
  g.posF = new Float32Array(g.count * 3);
  for (let i = 0; i < g.count; i++) {
    const [u, v] = unitUV(g, i);
    g.pos3[i * 3] = g.x3;
    g.pos3[i * 3 + 1] = v + g.y3;
    g.pos3[i * 3 + 2] = u;
    g.posF[i * 3] = g.xF + u;
    g.posF[i * 3 + 1] = v + g.yF;
    g.posF[i * 3 + 2] = 0;
  }
  const s = g.cell * g.pitch;
  const t = g.depth * g.pitch;
  g.size3 = [t, s, s];
  g.sizeF = [s, s, t];
}

/** World position of unit `i` at layout blend `mix` (0 = 3D, 1 = flat). */
export function unitWorld(g, i, mix) {
  const a = g.pos3;
  const b = g.posF;
  const k = i * 3;
  return [a[k] + (b[k] - a[k]) * mix, a[k + 1] + (b[k + 1] - a[k + 1]) * mix, a[k + 2] + (b[k + 2] - a[k + 2]) * mix];
}

/** Top centre of a group's plane (label anchor) at blend `mix`. */
export function planeTop(g, mix) {
  const y = g.height / 2 + 4 + g.y3 + (g.yF - g.y3) * mix;
  return [g.x3 + (g.xF - g.x3) * mix, y, 0];
}

/** Unit index under in-plane point (u, v), or -1 (between maps or outside). */
function unitAtUV(g, u, v) {
  const cx = u / g.pitch + g.cellsW / 2;
  const cy = -v / g.pitch + g.cellsH / 2;
  if (cx < 0 || cy < 0 || cx >= g.cellsW || cy >= g.cellsH) return -1;
  const mc = Math.floor(cx / (g.W + g.gap));
  const mr = Math.floor(cy / (g.H + g.gap));
  const x = Math.floor(cx - mc * (g.W + g.gap));
  const y = Math.floor(cy - mr * (g.H + g.gap));
  if (x >= g.W || y >= g.H) return -1;
  const c = mr * g.cols + mc;
  if (c >= g.C) return -1;
  const i = c * g.H * g.W + y * g.W + x;
  return i < g.count ? i : -1;
}

/**
 * The nearest unit hit by a ray in a settled layout (mix 0 or 1).
 * Returns {group, index} or null.
 */
export function pick(geoms, ray, mix) {
  const { origin: o, dir: d } = ray;
  let best = null;
  geoms.forEach((g, gi) => {
    if (!g.visible) return;
    let t;
    let u;
    let v;
    if (mix < 0.5) {
      if (Math.abs(d[0]) < 1e-6) return;
      t = (g.x3 - o[0]) / d[0];
      v = o[1] + d[1] * t - g.y3;
      u = o[2] + d[2] * t;
    } else {
      if (Math.abs(d[2]) < 1e-6) return;
      t = -o[2] / d[2];
      u = o[0] + d[0] * t - g.xF;
      v = o[1] + d[1] * t - g.yF;
    }
    if (t <= 0 || (best && t >= best.t)) return;
    const index = unitAtUV(g, u, v);
    if (index >= 0) best = { group: gi, index, t };
  });
  return best && { group: best.group, index: best.index };
}

/** Corners of every visible plane at blend `mix` (label room included), for framing. */
export function corners(geoms, mix) {
  const pts = [];
  for (const g of geoms) {
    if (!g.visible) continue;
    const x = g.x3 + (g.xF - g.x3) * mix;
    const y0 = g.y3 + (g.yF - g.y3) * mix;
    const hx = (g.width / 2) * mix;
    const hz = (g.width / 2) * (1 - mix);
    for (const sx of [-1, 1]) {
      for (const y of [-g.height / 2, g.height / 2 + 20]) pts.push([x + sx * hx, y0 + y, sx * hz]);
    }
  }
  return pts.length ? pts : [[0, 0, 0]];
}

/** Radius of the visible layout (for zoom limits and clip planes). */
export function radius(geoms, mix) {
  const pts = corners(geoms, mix);
  const lo = [0, 1, 2].map((k) => Math.min(...pts.map((p) => p[k])));
  const hi = [0, 1, 2].map((k) => Math.max(...pts.map((p) => p[k])));
  return Math.max(50, Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / 2);
}

/** World corners of map `c` of a group of maps at blend `mix` (for on-screen sizes). */
export function mapCorners(g, c, mix) {
  const ox = (c % g.cols) * (g.W + g.gap);
  const oy = Math.floor(c / g.cols) * (g.H + g.gap);
  return [[ox, oy], [ox + g.W, oy], [ox + g.W, oy + g.H], [ox, oy + g.H]].map(([cx, cy]) => {
    const u = (cx - g.cellsW / 2) * g.pitch;
    const v = -(cy - g.cellsH / 2) * g.pitch;
    return [g.x3 + (g.xF + u - g.x3) * mix, v + g.y3 + (g.yF - g.y3) * mix, u * (1 - mix)];
  });
}
