/* The drawing pad: Pointer Events (mouse, touch, pen with pressure), round-capped strokes,
   undo by replaying strokes over an optional base image (a loaded sample or upload). */

const INK = "#ffffff";
const PAPER = "#000000";

export class DrawPad {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onDraw: () => void, onStroke: () => void, onChange: () => void}} handlers
   *   onDraw while a stroke grows, onStroke when it ends, onChange after any edit.
   */
  constructor(canvas, handlers) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.h = handlers;
    this.strokes = [];
    this.base = null;
    this.current = null;
    this.size = 22;
    /** When set, the next stroke starts on a fresh pad (the page's demo digit is replaced). */
    this.replaceOnDraw = false;
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
    return [x, y, this.size * pressure];
  }

  down(e) {
    if ((e.button !== 0 && e.pointerType === "mouse") || this.current) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    if (this.replaceOnDraw) {
      this.replaceOnDraw = false;
      this.strokes = [];
      this.base = null;
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
    for (const ev of events.length ? events : [e]) pts.push(this.point(ev));
    this.paintSegment(pts, from);
    this.h.onDraw();
  }

  up(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    this.strokes.push(this.current);
    this.current = null;
    this.h.onChange();
    this.h.onStroke();
  }

  /** Paint points[from..] as round-capped segments (a single point is a dot). */
  paintSegment(points, from) {
    const ctx = this.ctx;
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

  redraw() {
    const ctx = this.ctx;
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.base) {
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(this.base, 0, 0, this.canvas.width, this.canvas.height);
    }
    for (const s of this.strokes) this.paintSegment(s.points, 0);
  }

  undo() {
    if (this.strokes.length) this.strokes.pop();
    else this.base = null;
    this.redraw();
    this.h.onChange();
  }

  clear() {
    this.replaceOnDraw = false;
    this.strokes = [];
    this.base = null;
    this.current = null;
    this.redraw();
    this.h.onChange();
  }

  /** Show a 28×28 image (Float32Array, ink = 1) as the pad's background; strokes are cleared. */
  setPixels(pixels) {
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
