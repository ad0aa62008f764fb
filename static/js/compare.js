/* Every served network's answer for the same digit, side by side; click a row to switch. */

import { el } from "./dom.js";
import { count, pct } from "./format.js";

export class ComparePanel {
  /** @param {HTMLElement} root @param {(name) => void} onPick */
  constructor(root, onPick) {
    this.root = root;
    this.onPick = onPick;
    this.placeholder("Draw a digit to ask every network.");
  }

  placeholder(text) {
    this.root.replaceChildren(el("p", { className: "muted small" }, text));
  }

  /** results: [{model, label, probabilities, test_accuracy, param_count}] */
  show(results, current) {
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
      el("span", { className: "cmp-name" }, r.model,
        el("small", { className: "muted" },
          [r.test_accuracy != null ? `${(r.test_accuracy * 100).toFixed(2)}% test` : null,
            r.param_count != null ? `${count(r.param_count)} params` : null].filter(Boolean).join(" · "))),
      el("span", { className: "cmp-digit" }, String(r.label)),
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
