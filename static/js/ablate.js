/* Which units are switched off (issue 16): a set of {layer, index} per model, kept in
   state.ablate and sent as `ablate` with every prediction; the server zeroes them for that
   request only. */

import { state } from "./state.js";

/** The units off for the current model ([] after a model switch). */
export function offUnits() {
  return state.ablate.model === state.modelName ? state.ablate.units : [];
}

export function isOff(layer, index) {
  return offUnits().some((u) => u.layer === layer && u.index === index);
}

/** Switch unit `index` of `layer` off, or back on; returns whether it is now off. */
export function toggleUnit(layer, index) {
  const units = offUnits();
  const off = !isOff(layer, index);
  state.ablate = {
    model: state.modelName,
    units: off ? [...units, { layer, index }] : units.filter((u) => u.layer !== layer || u.index !== index),
  };
  return off;
}

/** One sentence on how switching units off moved the prediction (an answer's `ablation`). */
export function effectText(ablation, label) {
  if (!ablation) return "";
  const n = ablation.units.length;
  const before = ablation.original_label;
  const what = `${n} unit${n > 1 ? "s" : ""} switched off`;
  const points = Math.abs(ablation.drop * 100).toFixed(1);
  const moved = `p(${before}) ${ablation.drop >= 0 ? "fell" : "rose"} ${points} points`;
  return ablation.label_changed
    ? `${what}: the answer moved from ${before} to ${label} (${moved}).`
    : `${what}: still ${label}; ${moved}.`;
}
