/* The pad's PNG encoder off the main thread (issue 18): a module worker answering
   {id, width, height, pixels} (RGBA bytes, transferred) with {id, url} (a PNG data URL). */

import { encodePng, pngDataUrl } from "./pngencode.js";

self.onmessage = async (e) => {
  const { id, width, height, pixels } = e.data;
  try {
    const png = await encodePng(new Uint8ClampedArray(pixels), width, height);
    self.postMessage({ id, url: pngDataUrl(png) });
  } catch (err) {
    self.postMessage({ id, error: String(err) });
  }
};
