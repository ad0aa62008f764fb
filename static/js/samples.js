/* The gallery of the shown dataset's shipped test images; clicking one loads it onto the pad.
   One tab stop: the arrow keys move between the images (roving.js). */

import { currentDataset } from "./datasets.js";
import { el } from "./dom.js";
import { grayImage } from "./paint.js";
import { rovingGrid } from "./roving.js";

export function renderSamples(root, samples, onPick) {
  const ds = currentDataset();
  root.replaceChildren(...samples.map((s) => {
    return el("button", {
      type: "button", className: "sample",
      title: `${ds.title} test #${s.index}, labelled ${s.class}`,
      "aria-label": `sample ${ds.noun}: ${s.class}`,
      dataset: { label: String(s.label), index: String(s.index), class: s.class },
      onclick: () => onPick(s),
    }, grayImage(s.pixels, 28, 28, "sample-img"));
  }));
  rovingGrid(root);
}
