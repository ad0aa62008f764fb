/* From an architecture (the /api/models layer list) to display groups: one group per drawn layer,
   an activation or normalisation layer optionally merged into the layer before it, identity
   layers (flatten, dropout at inference) always merged; decided by each layer's `role`. Also
   unit naming; colours per scale in scales.js. */

import { unitCoords } from "./geometry.js";
import { scaleValues } from "./scales.js";

/** Roles drawn on their own plane only when merging is off. */
const MERGEABLE = new Set(["activation", "normalisation"]);

/**
 * Group the layers for display.
 * Each group: {id, head (layer object), members: [layer names], shape (head's output shape),
 * kind (head kind), title, count}. The values shown are the last member's output.
 */
export function buildGroups(model, merge) {
  const input = {
    name: "input", kind: "input", role: "input", window: null, hyperparams: {},
    output_shape: model.input_shape, params: 0,
  };
  const groups = [makeGroup(input)];
  for (const layer of model.layers) {
    const last = groups[groups.length - 1];
    const mergeable = layer.role === "identity" ||
      (merge && MERGEABLE.has(layer.role) && last.kind !== "input");
    if (mergeable) {
      last.members.push(layer.name);
      last.layers.push(layer);
    } else {
      groups.push(makeGroup(layer));
    }
  }
  groups.forEach((g, i) => {
    g.id = i;
    g.title = g.members.filter((name, k) => k === 0 || g.layers[k].role !== "identity").join(" · ");
  });
  const lastGroup = groups[groups.length - 1];
  const classes = model.classes || [];
  lastGroup.isOutput = lastGroup.count === classes.length;
  // The output units' names: the dataset's classes ("7", "Ankle boot").
  lastGroup.classes = lastGroup.isOutput ? classes : [];
  return groups;
}

function makeGroup(layer) {
  const shape = layer.output_shape.slice();
  return {
    id: 0,
    head: layer,
    kind: layer.kind,
    members: [layer.name],
    layers: [layer],
    shape,
    count: shape.reduce((a, b) => a * b, 1),
    isMaps: shape.length === 3,
    title: layer.name,
    isOutput: false,
  };
}

/** "30×24×24" */
export const shapeText = (shape) => shape.join("×");

/**
 * The decoded output a group shows: its last member's (identity layers such as dropout may be
 * missing from an answer, so fall back to the member before).
 */
export function groupOutput(group, layers) {
  for (let k = group.members.length - 1; k >= 0; k--) {
    const layer = layers.get(group.members[k]);
    if (layer) return layer;
  }
  return null;
}

/** The layers whose outputs the groups show (each group's last member), the fewest an answer
    can hold for the view to draw everything (issue 18). */
export const shownLayers = (groups) => groups.map((g) => g.members[g.members.length - 1]);

/** Short description of a layer: "30 × 5×5", "max 2×2", "fully connected 100". */
export function layerSummary(layer) {
  const w = layer.window;
  if (layer.kind === "input") return "28×28 pixels";
  if (layer.role === "weighted" && w) {
    return `${layer.output_shape[0]} × ${w.kernel}×${w.kernel}` +
      (w.stride > 1 ? ` stride ${w.stride}` : "") + (w.padding ? ` pad ${w.padding}` : "");
  }
  if (layer.role === "weighted") return `fully connected ${layer.output_shape[0]}`;
  if (layer.role === "pooling") {
    return `${POOL_WORD[layer.kind] || layer.kind} ${w.kernel}×${w.kernel}` +
      (w.stride !== w.kernel ? ` stride ${w.stride}` : "");
  }
  return layer.kind;
}

const POOL_WORD = { maxpool: "max", avgpool: "avg" };

/**
 * Per group: raw values of the shown layer, LUT indices and the divisor of each map under colour
 * scale `mode` (scales.js: "map", "layer" or "global").
 */
export function displayValues(groups, layers, mode = "map") {
  const entries = groups.map((g) => {
    const layer = groupOutput(g, layers);
    return { group: g, values: layer ? layer.values : new Float32Array(g.count) };
  });
  const scaled = scaleValues(entries, mode);
  return entries.map((e, gi) => ({ values: e.values, ...scaled[gi] }));
}

/** "conv1 · relu1 map 12 (7, 9)" style label of a unit. */
export function unitLabel(group, index) {
  const c = unitCoords(group, index);
  if (group.kind === "input") return `input pixel (row ${c.y}, col ${c.x})`;
  if (!group.isMaps) {
    return group.isOutput ? `${group.title} · output ${index}: ${group.classes[index]}` : `${group.title} · unit ${index}`;
  }
  return `${group.title} · map ${c.channel} (row ${c.y}, col ${c.x})`;
}
