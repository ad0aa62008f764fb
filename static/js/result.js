/* The answer card: the predicted class, a probability bar per class (a click asks why, or why
   not, that class), the 28×28 image the network saw, and a status line for hints and errors.
   Class names come from the shown network's dataset (datasets.js). */

import { aClass, className, classNames } from "./datasets.js";
import { el } from "./dom.js";
import { pct } from "./format.js";

export class ResultPanel {
  /**
   * @param {{prediction, confidence, bars, inputView, timing, status}} dom
   * @param {(label) => void} onPick a probability bar was clicked
   */
  constructor(dom, onPick) {
    this.dom = dom;
    this.onPick = onPick;
    this.rows = [];
    this.named = null;
    this.target = null;
    this.empty("draw to start");
  }

  /** One bar per class of the shown network, named after it ("7", "Ankle boot"). */
  nameBars() {
    const names = classNames();
    const key = names.join("\n");
    if (key === this.named) return;
    this.named = key;
    const words = names.some((c) => c.length > 2);
    this.dom.bars.classList.toggle("words", words);
    this.dom.prediction.classList.toggle("word", words);
    this.rows = names.map((_, d) => {
      const fill = el("i", { className: "bar-fill" });
      const value = el("span", { className: "bar-pct" }, "");
      const pick = (e) => {
        if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        this.onPick(d);
      };
      const name = el("span", { className: "bar-digit" }, className(d));
      const row = el("li", {
        className: "bar-row", tabIndex: 0, onclick: pick, onkeydown: pick,
        title: `Why (or why not) ${aClass(d)}? Show the heatmap`,
      }, name, el("span", { className: "bar-track" }, fill), value);
      return { row, fill, value, name };
    });
    this.dom.bars.replaceChildren(...this.rows.map((r) => r.row));
    this.markTarget(this.target);
  }

  /** Show a prediction: {label, probabilities, input (28×28), timing_ms}. */
  show(result) {
    const p = result.probabilities;
    this.nameBars();
    this.dom.prediction.textContent = className(result.label);
    this.dom.prediction.dataset.state = "ok";
    const second = p.map((v, i) => [v, i]).filter(([, i]) => i !== result.label)
      .reduce((a, b) => (b[0] > a[0] ? b : a), [-1, -1]);
    const sure = p[result.label];
    this.dom.confidence.replaceChildren(
      el("strong", {}, pct(sure)), ` sure it is ${aClass(result.label)}`,
      el("br"), el("span", { className: "muted" },
        sure > 0.995 ? "no real doubt" : `next guess: ${className(second[1])} (${pct(second[0])})`));
    this.rows.forEach(({ row, fill, value }, d) => {
      fill.style.transform = `scaleX(${Math.max(0, Math.min(1, p[d]))})`;
      value.textContent = pct(p[d]);
      row.classList.toggle("win", d === result.label);
    });
    this.paintInput(result.input);
    const total = result.timing_ms && (result.timing_ms.total ?? Object.values(result.timing_ms)[0]);
    this.dom.timing.textContent = Number.isFinite(total) ? `${total.toFixed(total < 10 ? 1 : 0)} ms on the server` : "";
  }

  /** No prediction (blank pad): a friendly hint instead of numbers. */
  empty(hint) {
    this.nameBars();
    this.dom.prediction.textContent = "?";
    this.dom.prediction.dataset.state = "empty";
    this.dom.confidence.replaceChildren(el("span", { className: "muted" }, hint));
    this.rows.forEach(({ row, fill, value }) => {
      fill.style.transform = "scaleX(0)";
      value.textContent = "";
      row.classList.remove("win");
    });
    this.paintInput(null);
    this.dom.timing.textContent = "";
  }

  paintInput(input) {
    const cv = this.dom.inputView;
    const ctx = cv.getContext("2d");
    const img = ctx.createImageData(28, 28);
    const flat = input ? input.flat() : null;
    for (let i = 0; i < 784; i++) {
      const v = flat ? Math.round(Math.max(0, Math.min(1, flat[i])) * 255) : 0;
      img.data.set([v, v, v, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
  }

  /** Mark the class the Why view explains (null: the predicted one). */
  markTarget(label) {
    this.target = label;
    this.rows.forEach(({ row }, d) => row.classList.toggle("target", d === label));
  }

  busy(on) {
    this.dom.prediction.classList.toggle("busy", on);
  }

  /** kind: "" (plain), "hint" or "error". */
  status(text, kind = "") {
    this.dom.status.textContent = text;
    this.dom.status.dataset.kind = kind;
  }
}
