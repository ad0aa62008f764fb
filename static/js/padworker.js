/* The pad's PNG encoder off the main thread (issue 18): a module worker answering {id, width,
   height, pixels} (RGBA, transferred) with {id, url, crop}: PNG data URLs of the whole picture
   and, when it is opaque gray, of its ink's box (inkcrop.js), else null. */

import { cropPixels, inkBox } from "./inkcrop.js";
import { encodePng, isOpaqueGray, pngDataUrl } from "./pngencode.js";

async function cropUrl(px, width, height) {
  const box = isOpaqueGray(px) ? inkBox(px, width, height) : null;
  return box ? pngDataUrl(await encodePng(cropPixels(px, width, box), box.width, box.height)) : null;
}

self.onmessage = async (e) => {
  const { id, width, height, pixels } = e.data;
  try {
    const px = new Uint8ClampedArray(pixels);
    const [url, crop] = await Promise.all([encodePng(px, width, height).then(pngDataUrl), cropUrl(px, width, height)]);
    self.postMessage({ id, url, crop });
  } catch (err) {
    self.postMessage({ id, error: String(err) });
  }
};
