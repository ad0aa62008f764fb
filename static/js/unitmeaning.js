/* What a unit responds to (issue 16), painted into the unit panel from a GET
   /api/models/{name}/units/{layer}/{index} answer: its 9 top test digits cropped to the receptive
   field of where it peaked (the whole digit and the box on hover), its ideal input, where the
   drawing's value falls among the test digits' values, and its switch-off toggle. Only paints. */

import { decodeSample } from "./codec.js";
import { aClass, noun, plural } from "./datasets.js";
import { el } from "./dom.js";
import { fmt } from "./format.js";
import { paintGray } from "./paint.js";

const SIDE = 28;
const BINS = 24;

/** A digit (Float32Array of 784) cropped to `box` [y0, x0, y1, x1]; outside the image: NaN. */
function crop(digit, [y0, x0, y1, x1]) {
  const h = y1 - y0;
  const w = x1 - x0;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const r = y0 + y;
      const c = x0 + x;
      out[y * w + x] = r < 0 || c < 0 || r >= SIDE || c >= SIDE ? NaN : digit[r * SIDE + c];
    }
  }
  return { values: out, h, w };
}

/** Gray pixels, padding (NaN) in the page's dark blue. */
function paintCrop(canvas, { values, h, w }) {
  paintGray(canvas, values.map((v) => (Number.isNaN(v) ? 0 : v)), w, h);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#1d2a44";
  values.forEach((v, i) => { if (Number.isNaN(v)) ctx.fillRect(i % w, Math.floor(i / w), 1, 1); });
}

/** The whole digit with the receptive-field box drawn over it. */
function paintWhole(canvas, digit, [y0, x0, y1, x1]) {
  canvas.width = SIDE * 4;
  canvas.height = SIDE * 4;
  const ctx = canvas.getContext("2d");
  const small = document.createElement("canvas");
  paintGray(small, digit, SIDE, SIDE);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, SIDE * 4, SIDE * 4);
  ctx.strokeStyle = "#f89c3a";
  ctx.lineWidth = 2;
  ctx.strokeRect(x0 * 4 + 1, y0 * 4 + 1, (x1 - x0) * 4 - 2, (y1 - y0) * 4 - 2);
}

function topDigit(t, spatial) {
  const digit = decodeSample(t);
  const canvas = el("canvas", { className: "unit-top-img" });
  const cropped = crop(digit, t.box);
  const rest = () => (spatial ? paintCrop(canvas, cropped) : paintGray(canvas, digit, SIDE, SIDE));
  rest();
  return el("figure", {
    className: "unit-top-fig",
    title: `test ${noun()} #${t.index} (${aClass(t.label)}) · score ${fmt(t.score)}` +
      (spatial ? ` · rows ${t.box[0]}–${t.box[2] - 1}, cols ${t.box[1]}–${t.box[3] - 1}` : ""),
    onmouseenter: () => paintWhole(canvas, digit, t.box),
    onmouseleave: rest,
  }, canvas, el("figcaption", {}, String(t.label)));
}

/** The share of test digits whose value is below `v`, from the 101 percentiles. */
export function percentileOf(quantiles, v) {
  const n = quantiles.length - 1;
  if (v <= quantiles[0]) return 0;
  if (v >= quantiles[n]) return 100;
  let i = 0;
  while (quantiles[i + 1] < v) i++;
  const span = quantiles[i + 1] - quantiles[i];
  return ((i + (span > 0 ? (v - quantiles[i]) / span : 0)) / n) * 100;
}

/** A small histogram of the test digits' values (from their percentiles) and the drawing's. */
function histogram(quantiles, value) {
  const lo = Math.min(quantiles[0], value ?? Infinity);
  const hi = Math.max(quantiles[quantiles.length - 1], value ?? -Infinity);
  const width = hi > lo ? hi - lo : 1;
  const counts = new Array(BINS).fill(0);
  for (let k = 0; k < quantiles.length - 1; k++) { // each percentile step holds 1 % of the digits
    const mid = (quantiles[k] + quantiles[k + 1]) / 2;
    counts[Math.min(BINS - 1, Math.floor(((mid - lo) / width) * BINS))] += 1;
  }
  const canvas = el("canvas", { className: "unit-hist", width: BINS * 6, height: 40 });
  const ctx = canvas.getContext("2d");
  const top = Math.max(...counts);
  ctx.fillStyle = "#5ab4f0";
  counts.forEach((c, b) => { const h = (c / top) * 36; ctx.fillRect(b * 6, 40 - h, 5, h); });
  if (value !== null && value !== undefined) {
    const x = Math.round(((value - lo) / width) * (BINS * 6 - 2));
    ctx.fillStyle = "#f89c3a";
    ctx.fillRect(x, 0, 2, 40);
  }
  return canvas;
}

/**
 * The unit-meaning section: `a` the unit's answer (optimal decoded to {shape, values}), `value`
 * the drawing's score for the unit (null without a drawing), `off` whether it is switched off,
 * `onToggle()` to switch it; `fold.open` whether it starts unfolded (its heading folds it),
 * `fold.onFold(open)` told when the user folds or unfolds it.
 */
export function unitMeaning(a, value, off, onToggle, fold = { open: true, onFold: () => {} }) {
  const ideal = el("canvas", { className: "unit-ideal" });
  paintGray(ideal, a.optimal.values, SIDE, SIDE);
  const where = value === null ? `draw a ${noun()} to place it here`
    : `your ${noun()}: ${fmt(value)}, above ${percentileOf(a.quantiles, value).toFixed(0)} % of the ` +
      `${a.test_size.toLocaleString("en")} test ${plural()}`;
  const score = a.spatial ? "its largest value over the map" : "its value";
  const more = el("div", { className: "unit-meaning-more", id: "unit-meaning-more", hidden: !fold.open },
    el("p", { className: "explain" },
      `The ${a.top.length} test ${plural()} it answers most strongly (${score})` +
      (a.spatial ? `, cropped to the part of the image it sees there; hover for the whole ${noun()}:` : ":")),
    el("div", { className: "unit-top" }, a.top.map((t) => topDigit(t, a.spatial))),
    el("div", { className: "unit-ideal-row" },
      el("figure", { className: "unit-ideal-fig" }, ideal,
        el("figcaption", {}, `ideal input · ${fmt(a.optimal_score)}`)),
      el("p", {
        className: "muted small",
        title: "Gradient ascent on the image with jitter, L2 and smoothness penalties, pixels " +
          `kept in [0, 1]; the better ascent is kept, or the best test ${noun()} itself if neither beats it`,
      },
      "The input that excites it most: gradient ascent through the network's own backward pass, " +
        `from noise and from its best test ${noun()} (shown: ${a.optimal_from}). Its best test ` +
        `${noun()} scores ${fmt(a.top[0].score)}` +
        (a.optimal_source === "computed" ? " (computed for you just now)." : "."))),
    el("div", { className: "unit-hist-row" }, histogram(a.quantiles, value),
      el("p", { className: "muted small" }, `its values over the test set; ${where}`)));
  const folder = el("button", {
    type: "button", className: "unit-meaning-fold", "aria-expanded": String(fold.open),
    "aria-controls": "unit-meaning-more",
    title: "Fold or unfold what this unit responds to (remembered)",
    onclick: () => {
      more.hidden = !more.hidden;
      folder.setAttribute("aria-expanded", String(!more.hidden));
      fold.onFold(!more.hidden);
    },
  }, "What it responds to");
  return el("section", { className: "unit-meaning-body", dataset: { unit: `${a.layer}/${a.index}` } },
    el("div", { className: "unit-meaning-head" },
      el("h4", {}, folder),
      el("button", {
        type: "button", className: `btn unit-switch${off ? " active" : ""}`, "aria-pressed": String(off),
        title: `Zero this unit for your ${noun()}'s predictions (the network itself is not changed)`,
        onclick: onToggle,
      }, off ? "Switch back on" : "Switch off")),
    more);
}
