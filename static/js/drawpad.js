/* The drawing pad: Pointer Events (mouse, touch, pen with pressure), round-capped strokes,
   undo by replaying strokes over an optional base image (a loaded sample or upload). Points are
   kept on whole pixels, a finished stroke is simplified (strokecodec.js) and redrawn from the
   list, so the picture is a function of the strokes alone: a shared link or a replay (strokecodec.js, replay.js) paints
   exactly what was predicted. */

import { quantise, simplify } from "./strokecodec.js";

const INK = "#ffffff";
const PAPER = "#000000";

/** Paint points[from..] as round-capped segments (a single point is a dot). */
function paintPoints(ctx, points, from) {
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  if (points.length === 1) {
    const [x, y, w] = points[0];
    ctx.beginPath();
    ctx.arc(x, y, w / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  for (let i = Math.max(1, from); i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1, w] = points[i];
    ctx.lineWidth = w;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  }
}

/**
 * Paint a drawing into `canvas` (the pad's size): paper, the `base` image if any, then each
 * stroke's points (arrays of [x, y, width]) as the pad paints them once a stroke is finished.
 */
export function renderInk(canvas, base, strokes) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (base) {
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(base, 0, 0, canvas.width, canvas.height);
  }
  for (const points of strokes) if (points.length) paintPoints(ctx, points, 0);
}

export class DrawPad {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onDraw: () => void, onStroke: () => void, onChange: () => void}} handlers
   *   onDraw while a stroke grows, onStroke when it ends, onChange after any edit.
   */
  constructor(canvas, handlers) {
    this.canvas = canvas;
    // Read back on every live prediction (padencoder.js): kept in CPU memory.
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.h = handlers;
    this.strokes = [];
    this.base = null;
    this.current = null;
    this.size = 22;
    /** When set, the next stroke starts on a fresh pad (the page's demo digit is replaced). */
    this.replaceOnDraw = false;
    /** Where the base image came from: {sample: index}, {upload: name}, {other: note} or null. */
    this.baseRef = null;
    /** While a replay shows part of the drawing: [strokes, points of the next one], else null. */
    this.shown = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    this.redraw();
  }

  isBlank() {
    return this.strokes.length === 0 && !this.base && !this.current;
  }

  canUndo() {
    return this.strokes.length > 0 || Boolean(this.base);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * this.canvas.width;
    const y = ((e.clientY - r.top) / r.height) * this.canvas.height;
    const pressure = e.pointerType === "pen" && e.pressure > 0 ? 0.55 + 0.9 * e.pressure : 1;
    return quantise(x, y, this.size * pressure);
  }

  down(e) {
    if ((e.button !== 0 && e.pointerType === "mouse") || this.current) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    if (this.shown) this.redraw(); // drawing during a replay goes on from the whole drawing
    if (this.replaceOnDraw) {
      this.replaceOnDraw = false;
      this.strokes = [];
      this.base = null;
      this.baseRef = null;
      this.redraw();
    }
    this.current = { id: e.pointerId, points: [this.point(e)] };
    this.paintSegment(this.current.points, 0);
    this.h.onDraw();
  }

  move(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    const pts = this.current.points;
    const from = pts.length - 1;
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      const q = pts[pts.length - 1];
      if (p[0] !== q[0] || p[1] !== q[1] || p[2] !== q[2]) pts.push(p);
    }
    if (pts.length - 1 === from) return;
    this.paintSegment(pts, from);
    this.h.onDraw();
  }

  up(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    this.current.points = simplify(this.current.points);
    this.strokes.push(this.current);
    this.current = null;
    this.redraw(); // the finished picture, painted from the strokes alone
    this.h.onChange();
    this.h.onStroke();
  }

  paintSegment(points, from) {
    paintPoints(this.ctx, points, from);
  }

  /** Paint the whole drawing (or the part a replay shows). */
  redraw() {
    this.shown = null;
    renderInk(this.canvas, this.base, this.strokes.map((s) => s.points));
  }

  /** Show only the first `strokes` strokes and `points` points of the next (a replay). */
  preview(strokes, points) {
    const list = this.strokes.slice(0, strokes).map((s) => s.points);
    if (points > 0 && strokes < this.strokes.length) list.push(this.strokes[strokes].points.slice(0, points));
    renderInk(this.canvas, this.base, list);
    this.shown = [strokes, points];
  }

  /** Replace the drawing with `strokes` (lists of whole-pixel [x, y, width]) on a blank pad. */
  setStrokes(strokes) {
    this.strokes = strokes.map((points) => ({ id: -1, points: points.map((p) => p.slice()) }));
    this.current = null;
    this.redraw();
    this.h.onChange();
  }

  undo() {
    if (this.strokes.length) this.strokes.pop();
    else {
      this.base = null;
      this.baseRef = null;
    }
    this.redraw();
    this.h.onChange();
  }

  clear() {
    this.replaceOnDraw = false;
    this.strokes = [];
    this.base = null;
    this.baseRef = null;
    this.current = null;
    this.redraw();
    this.h.onChange();
  }

  /** Show a 28×28 image (Float32Array, ink = 1) as the pad's background; strokes are cleared.
      `ref` says where it came from (see baseRef). */
  setPixels(pixels, ref = null) {
    const small = document.createElement("canvas");
    small.width = 28;
    small.height = 28;
    const sctx = small.getContext("2d");
    const img = sctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(Math.max(0, Math.min(1, pixels[i])) * 255);
      img.data.set([v, v, v, 255], i * 4);
    }
    sctx.putImageData(img, 0, 0);
    this.base = small;
    this.baseRef = ref;
    this.replaceOnDraw = false;
    this.strokes = [];
    this.current = null;
    this.redraw();
    this.h.onChange();
  }

  toDataURL() {
    return this.canvas.toDataURL("image/png");
  }
}
