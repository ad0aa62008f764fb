/* Colour scales for activations (CNN Explainer's lesson: a scale per feature map hides how
   strongly a layer as a whole responds): each map, each layer or the whole network divided by
   its own largest magnitude, and the legend saying which numbers the colours' ends stand for. */

import { lutIndex } from "./colormap.js";
import { fmt } from "./format.js";

export const SCALES = [
  { id: "map", label: "per map", caption: "each feature map scaled to its own largest |value|" },
  { id: "layer", label: "per layer", caption: "each layer scaled to its own largest |value|" },
  { id: "global", label: "global", caption: "every layer on one scale" },
];

function maxAbs(values, start, end) {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
  }
  return m;
}

/**
 * LUT indices of every group's values under scale `mode`. `entries`: per group {values, group}.
 * Returns per group {norm: Uint8Array, scales: Float32Array} where scales holds the divisor of
 * each map (one entry for a vector group): value / divisor ∈ [-1, 1] is the colour.
 */
export function scaleValues(entries, mode) {
  const perMap = entries.map(({ values, group }) => {
    const per = group.isMaps ? group.shape[1] * group.shape[2] : values.length;
    const n = Math.max(1, Math.ceil(values.length / Math.max(1, per)));
    const scales = new Float32Array(n);
    for (let k = 0; k < n; k++) scales[k] = maxAbs(values, k * per, Math.min(values.length, (k + 1) * per));
    return { per, scales };
  });
  const layerMax = perMap.map(({ scales }) => scales.reduce((a, b) => Math.max(a, b), 0));
  const globalMax = layerMax.reduce((a, b) => Math.max(a, b), 0);
  return entries.map(({ values }, gi) => {
    const { per, scales } = perMap[gi];
    if (mode === "layer") scales.fill(layerMax[gi]);
    else if (mode === "global") scales.fill(globalMax);
    const norm = new Uint8Array(values.length);
    for (let k = 0; k < scales.length; k++) {
      const inv = scales[k] > 0 ? 1 / scales[k] : 0;
      const end = Math.min(values.length, (k + 1) * per);
      for (let i = k * per; i < end; i++) norm[i] = lutIndex(values[i] * inv);
    }
    return { norm, scales };
  });
}

/** The smallest and largest non-zero divisor over every group's scales: {lo, hi} (0 when none). */
export function scaleRange(display) {
  let lo = Infinity;
  let hi = 0;
  for (const d of display) {
    for (const s of d.scales || []) {
      if (s > 0 && s < lo) lo = s;
      if (s > hi) hi = s;
    }
  }
  return { lo: Number.isFinite(lo) ? lo : 0, hi };
}

/** The scale picker and the legend's numbers. */
export class ScaleLegend {
  /**
   * @param {{select, lo, hi, caption, note}} dom the picker, the legend's ends and caption, and
   *   the flat maps' note on their scale
   * @param {(mode) => void} onChange a new scale was picked
   */
  constructor(dom, onChange) {
    this.dom = dom;
    this.onChange = onChange;
    dom.select.replaceChildren(...SCALES.map((s) => {
      const o = document.createElement("option");
      o.value = s.id;
      o.textContent = s.label;
      return o;
    }));
    dom.select.addEventListener("change", () => this.onChange(dom.select.value));
  }

  /** Pick mode `id` (a shared link's). */
  pick(id) {
    this.dom.select.value = id;
    this.onChange(id);
  }

  /** Write the legend for `display` (netmodel.displayValues) under scale `id`. */
  update(display, id) {
    const mode = SCALES.find((s) => s.id === id) || SCALES[0];
    const { lo, hi } = scaleRange(display);
    this.dom.note.textContent = mode.caption;
    const { lo: loEl, hi: hiEl, caption } = this.dom;
    const ends = mode.id === "global" ? `±${fmt(hi)}` : `ends ±${fmt(lo)} … ±${fmt(hi)}`;
    loEl.textContent = hi && mode.id === "global" ? `−${fmt(hi)}` : "−";
    hiEl.textContent = hi && mode.id === "global" ? `+${fmt(hi)}` : "+";
    caption.textContent = `activation ${mode.label}${hi ? `: ${ends}` : ""} · 0 is dark`;
    caption.title = mode.caption;
    caption.dataset.lo = String(mode.id === "global" ? hi : lo);
    caption.dataset.hi = String(hi);
  }
}
