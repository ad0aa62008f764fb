/* Every served network of the shown dataset answering for the same drawing, side by side;
   click a row to switch. */

import { currentDataset } from "./datasets.js";
import { breakable, el } from "./dom.js";
import { count, pct } from "./format.js";

export class ComparePanel {
  /** @param {HTMLElement} root @param {(name) => void} onPick */
  constructor(root, onPick) {
    this.root = root;
    this.onPick = onPick;
    this.placeholder("Draw something to ask every network.");
  }

  placeholder(text) {
    this.root.replaceChildren(el("p", { className: "muted small" }, text));
  }

  /** results: [{model, label, class, probabilities, test_accuracy, param_count}] */
  show(results, current) {
    this.root.classList.toggle("words", currentDataset().classes.some((c) => c.length > 2));
    const labels = results.map((r) => r.label);
    const agree = labels.every((l) => l === labels[0]);
    const rows = results.map((r) => {
      const p = r.probabilities[r.label];
      return el("button", {
        type: "button",
        className: `cmp-row${r.model === current ? " current" : ""}`,
        title: `switch to ${r.model}`,
        onclick: () => this.onPick(r.model),
      },
      el("span", { className: "cmp-name" }, el("span", {}, breakable(r.model)),
        el("small", { className: "muted" },
          [r.test_accuracy != null ? `${(r.test_accuracy * 100).toFixed(2)}% test` : null,
            r.param_count != null ? `${count(r.param_count)} params` : null].filter(Boolean).join(" · "))),
      el("span", { className: "cmp-digit" }, r.class ?? String(r.label)),
      el("span", { className: "cmp-bar" }, el("i", { style: { transform: `scaleX(${p})` } })),
      el("span", { className: "cmp-pct" }, pct(p)));
    });
    const note = results.length > 1
      ? el("p", { className: `small ${agree ? "muted" : "disagree"}` },
        agree ? `All ${results.length} networks agree.` : "The networks disagree on this one.")
      : null;
    this.root.replaceChildren(...rows, ...(note ? [note] : []));
  }
}
