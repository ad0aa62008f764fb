/* The gallery of the shown dataset's shipped test images; clicking one loads it onto the pad.
   One tab stop: the arrow keys move between the images (roving.js). */

import { currentDataset } from "./datasets.js";
import { el } from "./dom.js";
import { rovingGrid } from "./roving.js";

export function renderSamples(root, samples, onPick) {
  const ds = currentDataset();
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
      title: `${ds.title} test #${s.index}, labelled ${s.class}`,
      "aria-label": `sample ${ds.noun}: ${s.class}`,
      dataset: { label: String(s.label), index: String(s.index), class: s.class },
      onclick: () => onPick(s),
    }, cv);
  }));
  rovingGrid(root);
}
