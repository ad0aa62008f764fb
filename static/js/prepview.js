/* Preprocessing, visible: the steps from a drawing to the network's 28×28 input, as the model's
   dataset was made. MNIST (LeCun et al.): crop to the ink, fit the longer side into 20 pixels,
   then place the digit so its centre of mass sits at the centre of the 28×28 frame.
   Fashion-MNIST (Xiao et al. 2017): crop, fit the longer side to 28 pixels and centre the box.
   Paints an /api/preprocess answer. */

import * as api from "./api.js";
import { decodeTree } from "./codec.js";
import { el } from "./dom.js";
import { fmt } from "./format.js";
import { layered } from "./marks.js";
import { paintGray } from "./paint.js";

const STEP_CSS = 140;
const INTRO = {
  digit: "MNIST digits were cropped to their ink, fitted into 20×20 pixels and placed by their centre of mass in a 28×28 frame; your drawing goes through the same steps, which is why an off-centre or small digit still works.",
  fill: "Fashion-MNIST's product photos were trimmed to the item, their longer side resized to 28 pixels and the item centred: it fills the frame. Your drawing goes through the same steps, so draw the whole garment, any size, anywhere on the pad.",
};

class PrepPanel {
  /** @param {{body: HTMLElement, note: HTMLElement}} dom */
  constructor(dom) {
    this.dom = dom;
  }

  placeholder(text) {
    this.dom.note.textContent = "";
    this.dom.body.replaceChildren(el("p", { className: "muted" }, text));
  }

  /**
   * Paint a decoded answer ({polarity, source_shape, source, crop_box, cropped, fitted, offset,
   * centre_of_mass, image}; arrays {shape, values}); `note` says where the image came from.
   */
  show(a, note) {
    this.dom.note.textContent = note || "";
    this.dom.intro.textContent = INTRO[a.preprocessing];
    const fill = a.preprocessing === "fill";
    const side = fill ? 28 : 20;
    const [SH, SW] = a.source_shape;
    const [top, left, bottom, right] = a.crop_box;
    const [th, tw] = a.source.shape;
    // Sizes read width × height, as image sizes are named (a 400 × 300 PNG is 400 wide).
    const source = step(a.source, "your image", `${SW} × ${SH} px${th !== SH ? `, shown at ${tw} × ${th}` : ""}`,
      `ink found: ${a.polarity}`);
    const sy = th / SH;
    const sx = tw / SW;
    source.marks.rect("crop", left * sx, top * sy, (right - left) * sx, (bottom - top) * sy, "mark-box");

    const cropped = step(a.cropped, "1 · crop to the ink", `${right - left} × ${bottom - top} px`,
      `rows ${top}–${bottom - 1}, cols ${left}–${right - 1}`);
    const [fh, fw] = a.fitted.shape;
    const fitted = step(a.fitted, `2 · fit into ${side} × ${side}`, `${fw} × ${fh}`, `longer side ${side} px, aspect kept`);

    // Step 3: the fitted digit centred as a box, then moved so its centre of mass is at (14, 14).
    const [cy, cx] = a.centre_of_mass;
    const [oy, ox] = a.offset;
    const boxY = Math.floor((28 - fh) / 2);
    const boxX = Math.floor((28 - fw) / 2);
    const placed = new Float32Array(784);
    for (let y = 0; y < fh; y++) for (let x = 0; x < fw; x++) placed[(y + boxY) * 28 + x + boxX] = a.fitted.values[y * fw + x];
    const shift = layered(28, 28, STEP_CSS, STEP_CSS, "the fitted image centred as a box");
    paintGray(shift.canvas, placed, 28, 28);
    shift.marks.rect("frame", 4, 4, 20, 20, "mark-faint");
    // Centres of mass are in pixel-index coordinates: pixel i spans [i, i + 1) on the canvas.
    shift.marks.line("move", boxX + cx + 0.5, boxY + cy + 0.5, 14.5, 14.5, "mark-arrow");
    shift.marks.dot("com", boxX + cx + 0.5, boxY + cy + 0.5, 0.9, "mark-dot");
    shift.marks.dot("centre", 14.5, 14.5, 0.6, "mark-target");
    const dy = oy - boxY;
    const dx = ox - boxX;

    const final = layered(28, 28, STEP_CSS, STEP_CSS, "the 28×28 image the network saw");
    final.canvas.id = "prep-final";
    paintGray(final.canvas, a.image.flat(), 28, 28);
    final.marks.rect("fit", ox, oy, fw, fh, "mark-faint");

    const arrow = () => el("div", { className: "prep-arrow", "aria-hidden": "true" }, "→");
    if (fill) {
      this.dom.body.replaceChildren(el("div", { className: "prep-steps", id: "prep-steps" },
        source.fig, arrow(), cropped.fig, arrow(), fitted.fig, arrow(),
        figure(final.el, "3 · centred: what the network saw", "28 × 28",
          `box at row ${oy}, col ${ox}: the item fills the frame`)));
      return;
    }
    final.marks.dot("com", ox + cx + 0.5, oy + cy + 0.5, 0.9, "mark-dot");
    this.dom.body.replaceChildren(el("div", { className: "prep-steps", id: "prep-steps" },
      source.fig, arrow(), cropped.fig, arrow(), fitted.fig, arrow(),
      figure(shift.el, "3 · centre of mass → centre",
        `move by (${signed(dy)}, ${signed(dx)}) px`,
        `mass at (${fmt(cy)}, ${fmt(cx)}) of the fitted box; the dot goes to (14, 14)`),
      arrow(),
      figure(final.el, "4 · what the network saw", "28 × 28",
        `box at row ${oy}, col ${ox}; centre of mass (${fmt(oy + cy)}, ${fmt(ox + cx)})`)));
  }
}

function step(arr, title, shape, note) {
  const [h, w] = arr.shape;
  const scale = STEP_CSS / Math.max(h, w);
  const t = layered(w, h, Math.round(w * scale), Math.round(h * scale), title);
  paintGray(t.canvas, arr.values, w, h);
  return { ...t, fig: figure(t.el, title, shape, note) };
}

function figure(node, title, shape, note) {
  return el("figure", { className: "prep-fig" },
    el("div", { className: "prep-frame" }, node),
    el("figcaption", {}, el("strong", {}, title), el("span", { className: "im-shape" }, shape),
      el("span", { className: "muted" }, note)));
}

const signed = (v) => (v > 0 ? `+${v}` : v < 0 ? `−${-v}` : "0");

export const prepView = {
  id: "prep",
  /** The steps depend on the drawing and on the model's dataset (how it prepares drawings). */
  follows: ["model", "source"],
  create: () => new PrepPanel({
    body: document.getElementById("prep-body"), note: document.getElementById("prep-note"),
    intro: document.getElementById("prep-intro"),
  }),

  async ask(ctx, req) {
    req.described = ctx.hooks.describeSource(req.source);
    return decodeTree(await api.preprocess(req.described.image, ctx.page.models.get(req.model)?.dataset));
  },

  apply(ctx, answer, req) {
    ctx.painter.show(answer, req.described.note);
  },
};
