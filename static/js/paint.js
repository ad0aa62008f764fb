/* Canvas painters for the explain-and-teach views: gray images, signed matrices in the page's
   colour scale and attribution heat over an image, each one pixel per value (CSS scales the
   canvas up, pixelated). They only paint. */

import { LUT, heatRgba, lutIndex } from "./colormap.js";

function image(canvas, width, height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  return { ctx, img: ctx.createImageData(width, height) };
}

const byte = (v) => Math.round(Math.max(0, Math.min(1, v)) * 255);

/** A gray image (values in [0, 1], 1 = white ink), `width` × `height`, row-major. */
export function paintGray(canvas, values, width, height) {
  const { ctx, img } = image(canvas, width, height);
  for (let i = 0; i < width * height; i++) {
    const v = values ? byte(values[i]) : 0;
    img.data[i * 4] = v;
    img.data[i * 4 + 1] = v;
    img.data[i * 4 + 2] = v;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

let scratch = null;

/**
 * A gray image as an <img> (a PNG data URL painted once on a shared canvas): galleries of many
 * thumbnails stay plain images, where a canvas each would be a composited layer each, which the
 * browser commits again on every frame of the 3D view (issue 18's long tasks).
 */
export function grayImage(values, width, height, className) {
  scratch ||= document.createElement("canvas");
  paintGray(scratch, values, width, height);
  return pictureOf(scratch, className);
}

/** What `canvas` shows, as an <img> of the same pixels (crisp when scaled up, as canvases are). */
export function pictureOf(canvas, className) {
  const img = document.createElement("img");
  Object.assign(img, { src: canvas.toDataURL("image/png"), width: canvas.width,
    height: canvas.height, alt: "", className: `pixels ${className}` });
  return img;
}

/** Largest |value| of `values[start, end)` (0 when all are 0). */
export function maxAbs(values, start = 0, end = values.length) {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
  }
  return m;
}

/**
 * Values in the page's diverging colour scale, divided by `scale` (default: their largest
 * magnitude), so 0 is the dark slate of a silent unit.
 */
export function paintSigned(canvas, values, width, height, scale = maxAbs(values, 0, width * height)) {
  const { ctx, img } = image(canvas, width, height);
  const inv = scale > 0 ? 1 / scale : 0;
  for (let i = 0; i < width * height; i++) {
    const k = lutIndex(values[i] * inv) * 4;
    img.data[i * 4] = LUT[k];
    img.data[i * 4 + 1] = LUT[k + 1];
    img.data[i * 4 + 2] = LUT[k + 2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Attribution `heat` (values in [-1, 1]) over a gray `base` image (or over black when null):
 * transparent where the heat is negligible, so the digit shows through.
 */
export function paintHeat(canvas, base, heat, width, height) {
  const { ctx, img } = image(canvas, width, height);
  for (let i = 0; i < width * height; i++) {
    const g = base ? byte(base[i]) * 0.8 : 0;
    const [r, gg, b, a] = heatRgba(heat[i]);
    const t = a / 255;
    img.data[i * 4] = Math.round(g + (r - g) * t);
    img.data[i * 4 + 1] = Math.round(g + (gg - g) * t);
    img.data[i * 4 + 2] = Math.round(g + (b - g) * t);
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** The heat scale as a 128 × 1 legend: against the digit (left) to for it (right). */
export function paintHeatLegend(canvas) {
  const ramp = new Float32Array(128);
  for (let i = 0; i < 128; i++) ramp[i] = i < 64 ? -(63 - i) / 63 : (i - 64) / 63;
  paintHeat(canvas, null, ramp, 128, 1);
}

/** A 0/1 mask: ones bright (`on`), zeros in the page's dark slate. */
export function paintMask(canvas, values, width, height, on = [0xff, 0xd3, 0x6e]) {
  const { ctx, img } = image(canvas, width, height);
  const off = [LUT[128 * 4], LUT[128 * 4 + 1], LUT[128 * 4 + 2]];
  for (let i = 0; i < width * height; i++) {
    const c = values[i] ? on : off;
    img.data[i * 4] = c[0];
    img.data[i * 4 + 1] = c[1];
    img.data[i * 4 + 2] = c[2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
