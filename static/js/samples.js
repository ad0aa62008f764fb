/* The gallery of shipped MNIST test digits; clicking one loads it onto the pad. One tab stop:
   the arrow keys move between the digits (roving.js). */

import { el } from "./dom.js";
import { rovingGrid } from "./roving.js";

export function renderSamples(root, samples, onPick) {
  root.replaceChildren(...samples.map((s) => {
    const cv = el("canvas", { width: 28, height: 28, className: "sample-img" });
    const ctx = cv.getContext("2d");
    const img = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(s.pixels[i] * 255);
      img.data.set([v, v, v, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    return el("button", {
      type: "button", className: "sample",
      title: `MNIST test #${s.index}, labelled ${s.label}`,
      "aria-label": `sample digit ${s.label}`,
      dataset: { label: String(s.label), index: String(s.index) },
      onclick: () => onPick(s),
    }, cv);
  }));
  rovingGrid(root);
}
