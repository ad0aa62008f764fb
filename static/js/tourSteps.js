/* The tour's steps, following Saito, "Deep Learning from Scratch" ch. 7 (7.1 data as numbers, 7.2
   convolution, padding and stride, 7.4 im2col, ReLU, 7.3 pooling, the affine layers and softmax,
   7.6 the learned filters, 7.7 deeper networks), derived from the display groups (netmodel.js)
   and the layer structure (geometry.js), so every network gets its own tour, in the words of its
   dataset (class names, "digit" or "piece of clothing"). Pure: a step's text is computed from
   the live answer it is given. */

import { isConv, isDense } from "./geometry.js";
import { count, fmt, pct } from "./format.js";

/** A live number in a step's text (the tour marks it, and it changes as the drawing does). */
const live = (text) => ({ live: String(text) });
/** A formula in a step's text. */
const formula = (text) => ({ formula: text });

/** A count written out in full: 17,280. */
const exact = (n) => n.toLocaleString("en-US");


/** Index and value of the largest entry of values[start, end). */
function argmax(values, start = 0, end = values.length) {
  let best = start;
  for (let i = start; i < end; i++) if (values[i] > values[best]) best = i;
  return { index: best, value: values[best] };
}

/** The map of a group of maps whose largest value is the largest: {map, index, value}. */
function liveliestMap(group, values) {
  const { index, value } = argmax(values);
  const [, h, w] = group.shape;
  return { map: Math.floor(index / (h * w)), index, value };
}

const rowCol = (group, index) => {
  const [, h, w] = group.shape;
  const r = index % (h * w);
  return { y: Math.floor(r / w), x: r % w };
};

/** The output-size formula of a windowed layer (Saito eq. 7.1) with its numbers. */
export function sizeFormula(layer, inputShape) {
  const { kernel: k, stride: s, padding: p } = layer.window;
  const h = inputShape[1];
  const out = Math.floor((h + 2 * p - k) / s) + 1;
  return { text: `OH = (H + 2P − FH) / S + 1 = (${h} + 2·${p} − ${k}) / ${s} + 1 = ${out}`, out };
}

/** Side of the input patch one unit of the last windowed layer up to `upto` sees (receptive field). */
function receptiveSide(groups, upto) {
  let side = 1;
  let jump = 1;
  for (let gi = 1; gi <= upto; gi++) {
    const w = groups[gi].head.window;
    if (!w) continue;
    side += (w.kernel - 1) * jump;
    jump *= w.stride;
  }
  return side;
}

const ACT_WORD = { relu: "ReLU", tanh: "tanh", sigmoid: "sigmoid" };

/**
 * The steps of the tour for `model` (an /api/models summary, with its `classes`) shown as
 * `groups`, in the words of its dataset `dataset` ({noun, plural, title} from /api/datasets,
 * as datasets.js's currentDataset gives it). Each step:
 * {id, title, chapter, shot: {groups: [gi], yaw, pitch} (yaw and pitch null: the view's usual
 *  3D angle) | null (the whole network),
 *  slide: gi | null (a window slides across this group's most active map), unit(ctx) → the unit
 *  to highlight {group, index} | null, text(ctx) → paragraphs (arrays of strings and {live} /
 *  {formula} parts), actions: [{id, label}]}; ctx = {result, display, compare, models}.
 */
export function buildTour(model, groups, dataset) {
  const steps = [];
  const classes = model.classes || [];
  const name = (label) => classes[label] ?? String(label);
  const NO_DRAWING = [`Draw a ${dataset.noun} on the pad (or pick one of the ${dataset.title} test ${dataset.plural}) ` +
    "and this step fills in with its numbers."];
  const range = classes.length ? `: ${classes[0]} to ${classes[classes.length - 1]}` : "";
  const last = groups.length - 1;
  const conv = groups.findIndex((g, gi) => gi > 0 && isConv(g.head));
  const pools = groups.map((g, gi) => (g.head.role === "pooling" ? gi : -1)).filter((gi) => gi > 0);
  const pool = pools.find((gi) => gi > conv) ?? pools[0] ?? -1;
  const dense = groups.map((g, gi) => (isDense(g.head) && gi !== last ? gi : -1)).filter((gi) => gi > 0);
  const windowed = groups.map((g, gi) => (g.head.window ? gi : -1)).filter((gi) => gi > 0);
  const lastWindowed = windowed.length ? windowed[windowed.length - 1] : -1;
  const values = (ctx, gi) => ctx.display[gi]?.values;
  const layerValues = (ctx, name) => ctx.result?.layers.get(name)?.values;
  const input = groups[0];

  steps.push({
    id: "overview", title: "The whole network", chapter: "ch. 7", shot: null, slide: null,
    actions: [{ id: "forward", label: "Play the forward pass" }],
    unit: () => null,
    text: (ctx) => {
      const convs = groups.filter((g) => isConv(g.head)).length;
      const head = [`${model.name} has ${model.layers.length} layers, drawn here as ${groups.length} planes ` +
        `(${convs} convolution${convs === 1 ? "" : "s"}), and ${count(model.param_count)} parameters. ` +
        `Data flows from the input on the left to ${groups[last].count} scores on the right, one per class; ` +
        "each plane is one layer's output, each small square one number."];
      if (!ctx.result) return [...head, ...NO_DRAWING];
      const p = ctx.result.probabilities;
      return [...head, ["For your drawing the last plane picks ", live(name(ctx.result.label)), " with ",
        live(pct(p[ctx.result.label])), ". Next: how each layer gets there."]];
    },
  });

  steps.push({
    id: "input", title: "The input is numbers", chapter: "7.1", shot: { groups: [0], yaw: -1.35, pitch: 0.12 }, slide: null,
    actions: [],
    unit: (ctx) => (values(ctx, 0) ? { group: 0, index: argmax(values(ctx, 0)).index } : null),
    text: (ctx) => {
      const v = values(ctx, 0);
      const [c, h, w] = input.shape;
      const head = [`The network never sees a picture: it gets one array of shape (1, ${c}, ${h}, ${w}), ` +
        `${h * w} numbers from 0 (paper) to 1 (ink), in the (N, C, H, W) layout of 7.1.`];
      if (!ctx.result || !v) return [...head, ...NO_DRAWING];
      const inked = v.reduce((a, x) => a + (x > 0.5 ? 1 : 0), 0);
      const { index, value } = argmax(v);
      const { y, x } = rowCol(input, index);
      return [...head, ["Your drawing has ", live(inked), " pixels above 0.5; the brightest (lit up) is at row ",
        live(y), ", column ", live(x), " with ", live(fmt(value)), ". Every layer after this one is arithmetic on these numbers."]];
    },
  });

  if (conv > 0) {
    const g = groups[conv];
    const prev = groups[conv - 1];
    const { kernel: k } = g.head.window;
    const [F] = g.shape;
    const C = prev.shape[0];
    steps.push({
      id: "conv", title: `Convolution: ${g.head.name} slides its filters`, chapter: "7.2",
      shot: { groups: [conv - 1, conv], yaw: -0.95, pitch: 0.3 }, slide: conv, actions: [],
      unit: () => null,
      text: (ctx) => {
        const head = [`${g.head.name} has ${F} filters of ${C}×${k}×${k} weights. Each one slides over its input; ` +
          `at every stop it multiplies the ${C * k * k} numbers under it by its weights, adds them and a bias, ` +
          "and writes one output unit. The lines show the window; the lit unit is the one being computed."];
        const v = layerValues(ctx, g.head.name);
        if (!ctx.result || !v) return [...head, ...NO_DRAWING];
        const m = liveliestMap(g, v);
        const { y, x } = rowCol(g, m.index);
        return [...head, ["For your drawing filter ", live(m.map), " answers most strongly: ", live(fmt(m.value)),
          " at row ", live(y), ", column ", live(x), ". The window is sliding across its map."]];
      },
    });
    const own = sizeFormula(g.head, prev.shape);
    const { stride, padding } = g.head.window;
    steps.push({
      id: "shape", title: "Padding, stride and the output size", chapter: "7.2.3–7.2.4",
      shot: { groups: [conv - 1, conv], yaw: -1.05, pitch: 0.6 }, slide: null, actions: [],
      unit: (ctx) => {
        const v = layerValues(ctx, g.head.name);
        if (!v) return { group: conv, index: 0 };
        const [, h, w] = g.shape;
        return { group: conv, index: liveliestMap(g, v).map * h * w };
      },
      text: (ctx) => {
        const others = windowed.filter((gi) => gi !== conv).map((gi) =>
          `${groups[gi].head.name}: ${sizeFormula(groups[gi].head, groups[gi - 1].shape).text.split(" = ").slice(1).join(" = ")}`);
        const pad = padding > 0
          ? `${padding} ring${padding > 1 ? "s" : ""} of zeros around the input (padding) keep the map ${own.out}×${own.out}`
          : `with no padding the map shrinks by ${k - 1}, to ${own.out}×${own.out}`;
        const paras = [
          [`The window moves ${stride} pixel${stride > 1 ? "s" : ""} at a time (stride ${stride}); ${pad}. ` +
            "The lit unit in the corner reads the top-left window. For this layer:"],
          [formula(own.text)],
        ];
        if (others.length) paras.push([`The other windowed layers: ${others.join("; ")}.`]);
        const v = layerValues(ctx, g.head.name);
        if (ctx.result && v) {
          const [, h, w] = g.shape;
          const m = liveliestMap(g, v).map;
          paras.push(["Here the corner unit of map ", live(m), " holds ", live(fmt(v[m * h * w])), "."]);
        }
        return paras;
      },
    });
    const [, OH, OW] = g.shape;
    steps.push({
      id: "im2col", title: "im2col: the layer as one matrix product", chapter: "7.4",
      shot: { groups: [conv], yaw: -1.3, pitch: 0.15 }, slide: null,
      actions: [{ id: "im2col", label: "Open the im2col view" }],
      unit: () => null,
      text: (ctx) => {
        const paras = [[`Looping over ${OH * OW} windows is slow in NumPy, so im2col unrolls every window into a row: ` +
          `a (${OH * OW}, ${C * k * k}) matrix. One product with the (${C * k * k}, ${F}) filter matrix gives all ` +
          `${exact(OH * OW * F)} outputs of ${g.head.name} at once; a reshape turns the (${OH * OW}, ${F}) result back into ${F} maps.`]];
        const v = layerValues(ctx, g.head.name);
        if (!ctx.result || !v) return [...paras, ...NO_DRAWING];
        const positive = v.reduce((a, x) => a + (x > 0 ? 1 : 0), 0);
        paras.push(["For your drawing ", live(exact(positive)), ` of those ${exact(v.length)} products are positive. `,
          "The im2col view shows the very matrices for this drawing."]);
        return paras;
      },
    });
    const act = (() => {
      for (let gi = conv; gi < groups.length; gi++) {
        const layer = groups[gi].layers.find((l) => l.role === "activation");
        if (layer) return { gi, layer };
        if (gi > conv && groups[gi].head.role !== "activation") break;
      }
      return null;
    })();
    if (act) {
      const word = ACT_WORD[act.layer.kind] || act.layer.kind;
      steps.push({
        id: "activation", title: `${word}: ${act.layer.name}`, chapter: act.layer.kind === "relu" ? "5.5.1" : "3.2",
        shot: { groups: [act.gi], yaw: -0.95, pitch: 0.3 }, slide: null, actions: [],
        unit: (ctx) => {
          const v = values(ctx, act.gi);
          return v ? { group: act.gi, index: argmax(v).index } : null;
        },
        text: (ctx) => {
          const head = act.layer.kind === "relu"
            ? [`${act.layer.name} keeps every positive number and sets the negatives to 0: y = max(0, x). ` +
              "Without it the stack of layers would collapse into one linear map."]
            : [`${act.layer.name} squashes every number with a smooth S-curve (${act.layer.kind}), so large ` +
              "values saturate; without it the stack of layers would collapse into one linear map."];
          const before = layerValues(ctx, g.head.name);
          const after = layerValues(ctx, act.layer.name);
          if (!ctx.result || !before || !after) return [...head, ...NO_DRAWING];
          const negative = before.reduce((a, x) => a + (x < 0 ? 1 : 0), 0);
          const top = argmax(before);
          if (act.layer.kind === "relu") {
            return [...head, ["Of the ", live(exact(before.length)), ` outputs of ${g.head.name} for your drawing, `,
              live(exact(negative)), ` (${pct(negative / before.length)}) were negative and are now 0; the largest, `,
              live(fmt(top.value)), ", passes unchanged."]];
          }
          return [...head, [`The largest output of ${g.head.name}, `, live(fmt(top.value)), ", becomes ",
            live(fmt(after[top.index])), "; ", live(exact(negative)), " negatives stay negative."]];
        },
      });
    }
  }

  if (pool > 0) {
    const g = groups[pool];
    const prev = groups[pool - 1];
    const { kernel: k, stride } = g.head.window;
    const max = g.head.kind === "maxpool";
    steps.push({
      id: "pool", title: `Pooling: ${g.head.name}`, chapter: "7.3",
      shot: { groups: [pool - 1, pool], yaw: -0.8, pitch: 0.3 }, slide: pool, actions: [],
      unit: () => null,
      text: (ctx) => {
        const head = [`${g.head.name} keeps the ${max ? "largest" : "average"} of each ${k}×${k} window, moving ` +
          `${stride} at a time: ${prev.shape.join("×")} → ${g.shape.join("×")}. It has no weights to learn, ` +
          "works on each map on its own, and a drawing shifted by a pixel barely changes it."];
        const v = values(ctx, pool);
        if (!ctx.result || !v) return [...head, ...NO_DRAWING];
        const m = liveliestMap(g, v);
        const { y, x } = rowCol(g, m.index);
        return [...head, ["In map ", live(m.map), " the largest pooled value is ", live(fmt(m.value)),
          " at row ", live(y), ", column ", live(x), "; the window is sliding across that map."]];
      },
    });
  }

  const deeper = windowed.filter((gi) => gi > Math.max(conv, pool));
  if (deeper.length) {
    const shown = [deeper[0] - 1, ...deeper];
    const top = groups[lastWindowed];
    steps.push({
      id: "stack", title: "More of the same, deeper", chapter: "7.5",
      shot: { groups: shown, yaw: -0.9, pitch: 0.45 }, slide: null, actions: [],
      unit: (ctx) => {
        const v = values(ctx, lastWindowed);
        return v ? { group: lastWindowed, index: argmax(v).index } : null;
      },
      text: (ctx) => {
        const names = deeper.map((gi) => `${groups[gi].head.name} (${groups[gi].shape.join("×")})`).join(", ");
        const side = receptiveSide(groups, lastWindowed);
        const seen = side >= input.shape[1] ? `all of the ${input.shape[1]}×${input.shape[2]} input (its window is ${side}×${side}, ` +
          "padding included)" : `a ${side}×${side} patch of the input`;
        const head = [`Then the same operations again: ${names}. Each reads all the maps of the layer before, ` +
          `so one unit of ${top.head.name} sees ${seen}: the deeper the layer, the larger the shapes it can respond to.`];
        const v = values(ctx, lastWindowed);
        if (!ctx.result || !v) return [...head, ...NO_DRAWING];
        const m = liveliestMap(top, v);
        return [...head, [`The most active unit of ${top.head.name} for your drawing (lit) is in map `, live(m.map),
          " with ", live(fmt(m.value)), "."]];
      },
    });
  }

  if (dense.length) {
    const gi = dense[0];
    const g = groups[gi];
    const prev = groups[gi - 1];
    const shown = [gi - 1, ...dense];
    steps.push({
      id: "dense", title: `Fully connected: ${dense.map((d) => groups[d].head.name).join(", ")}`, chapter: "5.6 · 7.5",
      shot: { groups: shown, yaw: -1.0, pitch: 0.3 }, slide: null, actions: [],
      unit: (ctx) => {
        const v = values(ctx, gi);
        return v ? { group: gi, index: argmax(v).index } : null;
      },
      text: (ctx) => {
        const n = g.count;
        const head = [`${g.head.name} flattens the ${exact(prev.count)} numbers of ${prev.title} into one vector and ` +
          `connects every one of them to each of its ${n} units: ${exact(prev.count * n)} weights and ${n} biases ` +
          "(the Affine layer). The lines show one unit's weights, warm positive, cold negative."];
        const v = values(ctx, gi);
        if (!ctx.result || !v) return [...head, ...NO_DRAWING];
        const top = argmax(v);
        const silent = v.reduce((a, x) => a + (x === 0 ? 1 : 0), 0);
        return [...head, ["Its most active unit for your drawing is #", live(top.index), " at ", live(fmt(top.value)),
          "; ", live(silent), ` of its ${n} units are silent (0).`]];
      },
    });
  }

  if (groups[last].isOutput) {
    const g = groups[last];
    steps.push({
      id: "output", title: `${g.count} scores and softmax`, chapter: "3.5 · 5.6.3",
      shot: { groups: [last - 1, last], yaw: -1.2, pitch: 0.2 }, slide: null, actions: [],
      unit: (ctx) => (ctx.result ? { group: last, index: ctx.result.label } : null),
      text: (ctx) => {
        const paras = [`${g.head.name} gives ${g.count} scores, one per class${range}. Softmax turns scores s into probabilities:`,
          [formula("p_k = exp(s_k) / Σ_j exp(s_j)")]];
        const s = values(ctx, last);
        if (!ctx.result || !s) return [...paras, ...NO_DRAWING];
        const order = Array.from(s.keys()).sort((a, b) => s[b] - s[a]);
        const m = Math.max(...s);
        const e = Array.from(s, (v) => Math.exp(v - m));
        const sum = e.reduce((a, b) => a + b, 0);
        const [first, second] = order;
        paras.push(["Your drawing: ", live(name(first)), " scores ", live(fmt(s[first])), ", the runner-up ", live(name(second)),
          " scores ", live(fmt(s[second])), ". Softmax gives p(", live(name(first)), ") = ", live(pct(e[first] / sum)),
          " — the bar in the Prediction card."]);
        return paras;
      },
    });
  }

  if (conv > 0) {
    const g = groups[conv];
    steps.push({
      id: "filters", title: "What the filters learned", chapter: "7.6",
      shot: { groups: [conv], yaw: -1.45, pitch: 0.05 }, slide: null,
      actions: [{ id: "filters", label: "Show the filters" }],
      unit: (ctx) => {
        const v = layerValues(ctx, g.head.name);
        return v ? { group: conv, index: liveliestMap(g, v).index } : null;
      },
      text: (ctx) => {
        const head = [`${g.head.name}'s ${g.shape[0]} filters started as random noise; training turned them into ` +
          "detectors of edges, strokes and textures at different angles (7.6). The filters view shows them before and after training."];
        const v = layerValues(ctx, g.head.name);
        if (!ctx.result || !v) return [...head, ...NO_DRAWING];
        const m = liveliestMap(g, v);
        return [...head, ["Your drawing matches filter ", live(m.map), " best: its map peaks at ", live(fmt(m.value)), "."]];
      },
    });
  }

  steps.push({
    id: "deeper", title: "Deeper networks", chapter: "7.7",
    shot: null, slide: null,
    actions: [],
    unit: () => null,
    text: (ctx) => {
      const others = [...ctx.models.values()].filter((m) => m.name !== model.name && !m.run && m.dataset === model.dataset);
      const paras = [[`The book ends the chapter with deeper networks: LeNet (1998: tanh, average pooling) and ` +
        "AlexNet (2012: ReLU, local response normalisation, max pooling, dropout)." +
        (others.length ? ` The other ${dataset.title} networks here; try them on your drawing:` : "")]];
      if (others.length) {
        paras.push(others.map((m) => `${m.name}: ${(m.description || "").split(":")[0]} (${count(m.param_count)} parameters)`).join(" · "));
      }
      if (ctx.compare && ctx.compare.length) {
        paras.push(["Every network's answer: ", ...ctx.compare.flatMap((r, i) =>
          [i ? ", " : "", `${r.model} `, live(name(r.label)), ` (${pct(r.probabilities[r.label])})`]), "."]);
      }
      return paras;
    },
  });
  return steps;
}

/** The model-switch actions of the "deeper" step: one per other shipped network of the same dataset. */
export function switchActions(models, current) {
  const dataset = models.get(current)?.dataset;
  return [...models.values()].filter((m) => m.name !== current && !m.run && m.dataset === dataset)
    .map((m) => ({ id: `model:${m.name}`, label: `Switch to ${m.name}` }));
}
