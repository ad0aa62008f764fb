/* Pad strokes ↔ a short URL-safe text: points on whole pad pixels and whole brush widths (the pad
   records them so, see drawpad.js), delta-coded as zigzag varints, base64url, ending in a
   Fletcher-16 checksum so a damaged or tampered link is refused instead of drawn wrong. */

const VERSION = 1;
const MAX_STROKES = 400;
const MAX_POINTS = 20000;
const COORD_LIMIT = 4096; // |x|, |y| in pad pixels (a captured pointer may leave the pad)
const MAX_WIDTH = 255;

/** A point as the pad records it: [x, y, width] rounded to whole pixels (width at least 1). */
export const quantise = (x, y, w) => [Math.round(x), Math.round(y), Math.max(1, Math.min(MAX_WIDTH, Math.round(w)))];

/**
 * The stroke with the points dropped that lie within `tolerance` pad pixels of the line through
 * the points kept around them (Ramer–Douglas–Peucker; a width change counts as distance): a
 * smooth stroke keeps a few dozen points whatever the pointer's event rate. Ends are kept.
 */
export function simplify(points, tolerance = 0.75) {
  if (points.length < 3) return points.slice();
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [a, b] = stack.pop();
    const [ax, ay, aw] = points[a];
    const [bx, by, bw] = points[b];
    const len = Math.hypot(bx - ax, by - ay);
    let worst = -1;
    let far = tolerance;
    for (let i = a + 1; i < b; i++) {
      const [x, y, w] = points[i];
      const t = len > 0 ? Math.max(0, Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / (len * len))) : 0;
      const d = Math.max(Math.hypot(x - (ax + t * (bx - ax)), y - (ay + t * (by - ay))), Math.abs(w - (aw + t * (bw - aw))));
      if (d > far) {
        far = d;
        worst = i;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([a, worst], [worst, b]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

const zig = (n) => (n >= 0 ? n * 2 : -n * 2 - 1);
const unzig = (z) => (z % 2 ? -(z + 1) / 2 : z / 2);

function fletcher16(bytes, end) {
  let a = 0;
  let b = 0;
  for (let i = 0; i < end; i++) {
    a = (a + bytes[i]) % 255;
    b = (b + a) % 255;
  }
  return [a, b];
}

function toBase64Url(bytes) {
  let bin = "";
  for (const byte of bytes) bin += String.fromCharCode(byte);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error("not base64url");
  const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Strokes ([[x, y, width], ...] per stroke, whole numbers) as base64url. Layout: version, stroke
 * count, then per stroke its point count, first point (zigzag x, y; width), then per point
 * zigzag(dx)·2 + (width changed), zigzag(dy) [, width]; all varints; two checksum bytes.
 */
export function encodeStrokes(strokes) {
  const out = [VERSION];
  const varint = (n) => {
    let v = n;
    while (v >= 128) {
      out.push((v % 128) + 128);
      v = Math.floor(v / 128);
    }
    out.push(v);
  };
  varint(strokes.length);
  for (const points of strokes) {
    varint(points.length);
    let [px, py, pw] = points[0];
    varint(zig(px));
    varint(zig(py));
    varint(pw);
    for (let i = 1; i < points.length; i++) {
      const [x, y, w] = points[i];
      varint(zig(x - px) * 2 + (w !== pw ? 1 : 0));
      varint(zig(y - py));
      if (w !== pw) varint(w);
      [px, py, pw] = [x, y, w];
    }
  }
  out.push(...fletcher16(out, out.length));
  return toBase64Url(out);
}

/** The strokes of encodeStrokes' text; throws an Error saying what is wrong with it. */
export function decodeStrokes(text) {
  const bytes = fromBase64Url(text);
  if (bytes.length < 4) throw new Error("too short");
  const end = bytes.length - 2;
  const [a, b] = fletcher16(bytes, end);
  if (bytes[end] !== a || bytes[end + 1] !== b) throw new Error("checksum mismatch");
  if (bytes[0] !== VERSION) throw new Error(`unknown version ${bytes[0]}`);
  let at = 1;
  const varint = () => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (at >= end || scale > 2 ** 28) throw new Error("truncated");
      const byte = bytes[at++];
      v += (byte % 128) * scale;
      if (byte < 128) return v;
      scale *= 128;
    }
  };
  const coord = (v) => {
    if (Math.abs(v) > COORD_LIMIT) throw new Error("point off the pad");
    return v;
  };
  const width = (w) => {
    if (w < 1 || w > MAX_WIDTH) throw new Error("bad brush width");
    return w;
  };
  const n = varint();
  if (n < 1 || n > MAX_STROKES) throw new Error("bad stroke count");
  const strokes = [];
  let total = 0;
  for (let s = 0; s < n; s++) {
    const count = varint();
    total += count;
    if (count < 1 || total > MAX_POINTS) throw new Error("bad point count");
    let x = coord(unzig(varint()));
    let y = coord(unzig(varint()));
    let w = width(varint());
    const points = [[x, y, w]];
    for (let i = 1; i < count; i++) {
      const head = varint();
      x = coord(x + unzig(Math.floor(head / 2)));
      y = coord(y + unzig(varint()));
      if (head % 2) w = width(varint());
      points.push([x, y, w]);
    }
    strokes.push(points);
  }
  if (at !== end) throw new Error("trailing bytes");
  return strokes;
}
