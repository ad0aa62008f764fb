/* How to show a network in 3D so it fills the view and every feature map stays legible: a small
   search over plane spacing and camera angle, scored by the smallest map on screen, with planes
   not allowed to hide one another (after nn_vis, which fans layers out like a deck of cards). */

import { corners, stack } from "./layout.js";
import { project } from "./mat4.js";

const SPREADS = [0.2, 0.3, 0.42, 0.56, 0.75];
const YAWS = [-0.6, -0.72, -0.85, -1.0, -1.15, -1.3, -1.45];
const PITCHES = [0.25, 0.38, 0.52, 0.66, 0.8];
const RISES = [0, 0.3, 0.6, 1];
const MAX_OVERLAP = 0.45; // share of a plane another plane may cover on screen
const LABEL_ROOM = 16; // CSS px between output units: room for a class label each
const INPUT_WEIGHT = 3;

/** Signed area of a polygon of [x, y] points. */
function area(poly) {
  let a = 0;
  poly.forEach((p, k) => {
    const n = poly[(k + 1) % poly.length];
    a += p[0] * n[1] - n[0] * p[1];
  });
  return a / 2;
}

/** Intersection of two convex polygons, both counter-clockwise (Sutherland–Hodgman). */
function clip(subject, edges) {
  let out = subject;
  edges.forEach((a, k) => {
    const b = edges[(k + 1) % edges.length];
    const ex = b[0] - a[0];
    const ey = b[1] - a[1];
    const inside = (p) => ex * (p[1] - a[1]) - ey * (p[0] - a[0]) >= 0;
    // Where segment p→q crosses the clipping edge's line.
    const cross = (p, q) => {
      const den = ex * (q[1] - p[1]) - ey * (q[0] - p[0]);
      const t = den ? (ex * (a[1] - p[1]) - ey * (a[0] - p[0])) / den : 0;
      return [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
    };
    const input = out;
    out = [];
    input.forEach((p, i) => {
      const q = input[(i + 1) % input.length];
      if (inside(q)) {
        if (!inside(p)) out.push(cross(p, q));
        out.push(q);
      } else if (inside(p)) {
        out.push(cross(p, q));
      }
    });
  });
  return out;
}

/** A plane's outline on screen (CSS px, counter-clockwise), or null behind the camera. */
function outline(g, viewProj, size) {
  const hw = g.width / 2;
  const hh = g.height / 2;
  const pts = [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(([u, v]) => project(viewProj, [g.x3, v + g.y3, u]));
  if (pts.some((p) => p[3] <= 0)) return null;
  const poly = pts.map((p) => [((p[0] + 1) / 2) * size[0], ((p[1] + 1) / 2) * size[1]]);
  return area(poly) < 0 ? poly.reverse() : poly;
}

/**
 * A quadrilateral's size across on screen, [along its first edge, along its second], each the
 * mean of two opposite edges: a plane seen edge-on is narrow however tall it is.
 */
export function across(q) {
  const len = (a, b) => Math.hypot(b[0] - a[0], b[1] - a[1]);
  return [(len(q[0], q[1]) + len(q[3], q[2])) / 2, (len(q[1], q[2]) + len(q[0], q[3])) / 2];
}

/**
 * Smallest legible detail of a plane on screen (px): one map, or one output unit's room. The
 * input image counts at a fifth of its size: it is the picture a reader starts from.
 */
function detail(g, poly) {
  const [along, up] = across(poly);
  const weight = g.C === 1 ? INPUT_WEIGHT : 1;
  if (!g.box) return (Math.min((along * g.W) / g.cellsW, (up * g.H) / g.cellsH)) / weight;
  return g.output && g.W === 1 ? ((up / g.H) * 12) / LABEL_ROOM : Infinity;
}

/**
 * Score a spacing and pose: the smallest map in CSS px, cut down when planes cover one another
 * by more than MAX_OVERLAP. `camera` frames and projects; `size` is the view in CSS px.
 */
function score(geoms, camera, yaw, pitch, size) {
  const pose = camera.frame(corners(geoms, 0), yaw, pitch);
  const { viewProj } = camera.matrices(pose);
  const shown = geoms.filter((g) => g.visible);
  const polys = shown.map((g) => outline(g, viewProj, size));
  if (polys.some((p) => !p)) return { value: 0, pose };
  const areas = polys.map((p) => Math.abs(area(p)));
  let legible = Infinity;
  let worst = 0;
  polys.forEach((poly, i) => {
    legible = Math.min(legible, detail(shown[i], poly));
    for (let j = i + 1; j < polys.length; j++) {
      const common = clip(poly, polys[j]);
      if (common.length > 2) worst = Math.max(worst, Math.abs(area(common)) / Math.min(areas[i], areas[j]));
    }
  });
  // Planes spread over the view (the sum of their areas against the view's) rather than a
  // thin strip: a picture that fills the view reads better at the same smallest map.
  const fill = Math.min(1, areas.reduce((a, b) => a + b, 0) / (size[0] * size[1]));
  const value = legible * Math.max(0.05, 1 - 4 * Math.max(0, worst - MAX_OVERLAP));
  return { value: value * Math.sqrt(fill), legible: value, pose };
}

/**
 * The spacing, climb and 3D pose that show the network best in a view of `size` CSS px:
 * {spread, rise, yaw, pitch, pose, value}. `geoms` are unplaced planes (layout.planes); `camera` an OrbitCamera
 * whose aspect is the view's.
 */
export function bestFraming(geoms, camera, size) {
  let best = null;
  for (const spread of SPREADS) {
    for (const rise of RISES) {
      stack(geoms, spread, rise);
      for (const yaw of YAWS) {
        for (const pitch of PITCHES) {
          const s = score(geoms, camera, yaw, pitch, size);
          if (!best || s.value > best.value + 1e-6) best = { ...s, spread, rise, yaw, pitch };
        }
      }
    }
  }
  return best;
}
