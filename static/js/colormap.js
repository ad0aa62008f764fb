/* One diverging colour scale for activations and weights: cold blue below zero, a dark slate at
   zero (so silent units recede on the dark page), purple → orange → pale yellow above. */

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

function build(n) {
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const t = i / (n - 1);
    let k = 1;
    while (k < STOPS.length - 1 && STOPS[k][0] < t) k++;
    const [t0, c0] = STOPS[k - 1];
    const [t1, c1] = STOPS[k];
    const f = (t - t0) / (t1 - t0);
    for (let j = 0; j < 3; j++) out[i * 4 + j] = Math.round(c0[j] + (c1[j] - c0[j]) * f);
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** 256 RGBA entries; entry 128 (t = 0.5) is zero. */
export const LUT = build(256);

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
