/* The pad's picture cut to its ink's box plus a pixel of paper (issue 18): model/preprocess.py
   reads the paper from the border, so while the whole pad's border is paper it makes the same
   28×28 of the crop (tests/model/test_preprocess.py). Pure. */

/** Pixels of paper kept around the ink: the crop's border, where the server reads the paper. */
export const MARGIN = 1;

/**
 * The box {left, top, width, height} of RGBA pixels `px` (width × height) to send in place of
 * the whole picture: the ink's bounding box grown by MARGIN. Null when the picture's border is
 * not all one colour (the paper), nothing differs from it, or the margin would leave the
 * picture: then the whole picture goes.
 */
export function inkBox(px, width, height) {
  const words = new Uint32Array(px.buffer, px.byteOffset, width * height); // one RGBA pixel each
  const paper = words[0];
  const last = (height - 1) * width;
  for (let x = 0; x < width; x++) if (words[x] !== paper || words[last + x] !== paper) return null;
  for (let y = 0; y < height; y++) {
    if (words[y * width] !== paper || words[y * width + width - 1] !== paper) return null;
  }
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 1; y < height - 1; y++) {
    const row = y * width;
    for (let x = 1; x < width - 1; x++) {
      if (words[row + x] === paper) continue;
      if (y < top) top = y;
      bottom = y;
      if (x < left) left = x;
      if (x > right) right = x;
    }
  }
  if (bottom < 0 || top < MARGIN || left < MARGIN || bottom + MARGIN >= height || right + MARGIN >= width) return null;
  return { left: left - MARGIN, top: top - MARGIN, width: right - left + 1 + 2 * MARGIN,
    height: bottom - top + 1 + 2 * MARGIN };
}

/** The RGBA pixels of `box` out of `px` (a picture `width` pixels wide). */
export function cropPixels(px, width, box) {
  const out = new Uint8ClampedArray(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * width + box.left) * 4;
    out.set(px.subarray(from, from + box.width * 4), y * box.width * 4);
  }
  return out;
}
