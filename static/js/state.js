/* The page's single state object and a tiny event bus; modules read state and announce changes
   with emit(), main.js decides who reacts. */

export const state = {
  /** Model summaries from /api/models, by name. */
  models: new Map(),
  modelName: null,
  /** Display groups of the current model (see netmodel.js). */
  groups: [],
  /** Last /api/activations answer, decoded: {label, probabilities, input, layers: Map}. */
  result: null,
  /** Per group: {values: Float32Array, norm: Uint8Array (LUT index per unit)}. */
  display: [],
  /** What the last prediction was made from: {image} or {pixels}, or null for a blank pad. */
  source: null,
  /** Every model's answer for the same input (/api/compare results), or null. */
  compare: null,
  view: {
    layout: "3d",
    merge: true,
    links: true,
    /** Names of head layers the user hid. */
    hidden: new Set(),
  },
  /** {group, index} under the pointer, and the clicked one. */
  hover: null,
  selected: null,
  /** Decoded parameters: "model/param" → Promise<{shape, values}>. */
  params: new Map(),
  samples: [],
  /** The explain-and-teach views below the network (teach.js): the open tab, each view's
      settings and its last decoded answer (for {model, source} it was asked about). */
  teach: {
    tab: "why",
    /** The views are on screen (scrolled into view). */
    visible: false,
    /** engaged: the user has seen an explanation, so it follows the drawing onto the 3D view. */
    why: { method: "saliency", layer: null, patch: 6, stride: 2, target: null, overlay: true, engaged: false, answer: null },
    im2col: { layer: null, hover: null, answer: null },
    prep: { answer: null },
    quality: { filter: null, detail: null, mistakes: null },
    robust: { dx: 0, dy: 0, angle: 0, scale: 1, thickness: 0, target: null, answer: null },
  },
};

const listeners = new Map();

export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
}

export function emit(event, payload) {
  for (const fn of listeners.get(event) || []) fn(payload);
}
