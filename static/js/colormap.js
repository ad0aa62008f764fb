/* One diverging colour scale for activations and weights: cold blue below zero, a dark slate at
   zero (so silent units recede on the dark page), purple → orange → pale yellow above. A second,
   distinct scale for attributions (teal → lime for importance, magenta for the opposite), so a
   heatmap laid over an input never reads as an activation. */

const STOPS = [
  [0.0, [0xd2, 0xf4, 0xff]],
  [0.16, [0x5a, 0xb4, 0xf0]],
  [0.34, [0x2a, 0x5b, 0xa8]],
  [0.5, [0x1f, 0x26, 0x36]],
  [0.64, [0x6b, 0x2f, 0x8f]],
  [0.78, [0xd9, 0x48, 0x5f]],
  [0.9, [0xf8, 0x9c, 0x3a]],
  [1.0, [0xff, 0xf1, 0xa8]],
];

const HEAT_STOPS = [
  [0.0, [0x0a, 0x2e, 0x2c]],
  [0.3, [0x0e, 0x8f, 0x80]],
  [0.65, [0x5c, 0xd8, 0x6c]],
  [1.0, [0xee, 0xff, 0xa8]],
];
const AGAINST_STOPS = [
  [0.0, [0x2a, 0x10, 0x2c]],
  [0.5, [0xa8, 0x2e, 0xb0]],
  [1.0, [0xff, 0x9c, 0xf4]],
];

function build(n, stops = STOPS) {
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const t = i / (n - 1);
    let k = 1;
    while (k < stops.length - 1 && stops[k][0] < t) k++;
    const [t0, c0] = stops[k - 1];
    const [t1, c1] = stops[k];
    const f = (t - t0) / (t1 - t0);
    for (let j = 0; j < 3; j++) out[i * 4 + j] = Math.round(c0[j] + (c1[j] - c0[j]) * f);
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** 256 RGBA entries; entry 128 (t = 0.5) is zero. */
export const LUT = build(256);

/** Attribution scales, 256 RGBA entries each over |value| in [0, 1]: for and against. */
const HEAT = build(256, HEAT_STOPS);
const AGAINST = build(256, AGAINST_STOPS);

/**
 * Colour and opacity of an attribution value in [-1, 1] laid over an image: [r, g, b, a] in
 * 0..255; negligible values are transparent so the image shows through.
 */
export function heatRgba(v) {
  const a = Math.min(1, Math.abs(v));
  if (a < 0.04) return [0, 0, 0, 0];
  const lut = v < 0 ? AGAINST : HEAT;
  const i = Math.round(a * 255) * 4;
  return [lut[i], lut[i + 1], lut[i + 2], Math.round(255 * (0.3 + 0.6 * a))];
}

/** Map a signed value scaled to [-1, 1] to a LUT index (0..255). */
export function lutIndex(signed) {
  const s = signed > 1 ? 1 : signed < -1 ? -1 : signed;
  return Math.round((s * 0.5 + 0.5) * 255);
}

/** [r, g, b] in 0..255 for a signed value scaled to [-1, 1]. */
export function rgb(signed) {
  const i = lutIndex(signed) * 4;
  return [LUT[i], LUT[i + 1], LUT[i + 2]];
}

/** CSS colour for a signed value scaled to [-1, 1]. */
export function css(signed) {
  const [r, g, b] = rgb(signed);
  return `rgb(${r},${g},${b})`;
}

/** Text colour readable on top of css(signed). */
export function inkOn(signed) {
  const [r, g, b] = rgb(signed);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? "#0c1018" : "#e8edf5";
}

/**
 * Paint LUT indices (Uint8Array, one per pixel) into a canvas of the same size in pixels.
 * The canvas is kept at data resolution; CSS scales it up with `image-rendering: pixelated`.
 */
export function paintIndices(canvas, indices, width, height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  const px = img.data;
  for (let i = 0; i < width * height; i++) {
    const k = (indices[i] ?? 128) * 4;
    px[i * 4] = LUT[k];
    px[i * 4 + 1] = LUT[k + 1];
    px[i * 4 + 2] = LUT[k + 2];
    px[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Paint the legend bar (256×1 canvas). */
export function paintLegend(canvas) {
  const idx = new Uint8Array(256);
  for (let i = 0; i < 256; i++) idx[i] = i;
  paintIndices(canvas, idx, 256, 1);
}
