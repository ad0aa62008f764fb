/* Pointer and wheel input for the 3D view, with the manners of a map widget: the page keeps
   plain wheel and one-finger swipes (they scroll it), Ctrl/⌘+wheel zooms, two fingers pinch to
   zoom and drag to orbit (to pan when rotation is locked), and a brief hint says so when the
   user tries otherwise. With a mouse, left-drag orbits (pans when rotation is locked),
   right/middle/shift-drag pans; a short press without movement is a click. Reports hover and
   click positions in NDC. */

const CLICK_SLOP = 5;
const MAC = /Mac|iPhone|iPad/.test(navigator.platform);
export const HINT_WHEEL = `${MAC ? "⌘" : "Ctrl"} + scroll to zoom the network`;
export const HINT_TOUCH = "use two fingers to move the network";

export class OrbitControls {
  /**
   * @param {HTMLElement} el element receiving input
   * @param {OrbitCamera} camera
   * @param {{onChange, onHover, onClick, onLeave, onHint}} handlers onChange(moved) after any
   *   input (moved: the camera was actually moved), onHover/onClick(ndc, event), onLeave(event),
   *   onHint(text) when a gesture belongs to the page (how to move the camera instead)
   */
  constructor(el, camera, handlers) {
    this.el = el;
    this.camera = camera;
    this.h = handlers;
    this.rotateEnabled = true;
    this.pointers = new Map();
    this.mode = null;
    this.moved = 0;
    this.lastT = 0;
    this.pinch = null;
    el.addEventListener("pointerdown", (e) => this.down(e));
    el.addEventListener("pointermove", (e) => this.move(e));
    el.addEventListener("pointerup", (e) => this.up(e));
    el.addEventListener("pointercancel", (e) => this.up(e, true));
    el.addEventListener("pointerleave", (e) => { if (!this.pointers.size) this.h.onLeave(e); });
    el.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    // Two fingers belong to the view: keep the browser from scrolling or zooming the page.
    for (const type of ["touchstart", "touchmove"]) {
      el.addEventListener(type, (e) => { if (e.touches.length > 1) e.preventDefault(); }, { passive: false });
    }
    el.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  ndc(e) {
    const r = this.el.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * 2 - 1, 1 - ((e.clientY - r.top) / r.height) * 2];
  }

  down(e) {
    this.el.setPointerCapture(e.pointerId);
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    this.camera.stopMomentum();
    if (this.pointers.size === 1) {
      const pan = e.button === 1 || e.button === 2 || e.shiftKey || e.ctrlKey || !this.rotateEnabled;
      // One finger is the page's (a swipe scrolls it); it only taps.
      this.mode = e.pointerType === "touch" ? "tap" : pan ? "pan" : "rotate";
      this.moved = 0;
      this.start = { x: e.clientX, y: e.clientY, button: e.button };
    } else if (this.pointers.size === 2) {
      this.mode = "pinch";
      this.moved = CLICK_SLOP + 1;
      this.pinch = this.pinchState();
    }
    this.lastT = e.timeStamp;
  }

  pinchState() {
    const [a, b] = [...this.pointers.values()];
    return { d: Math.hypot(a.x - b.x, a.y - b.y), cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2 };
  }

  move(e) {
    const p = this.pointers.get(e.pointerId);
    if (!p) {
      if (e.pointerType !== "touch") this.h.onHover(this.ndc(e), e);
      return;
    }
    const dx = e.clientX - p.x;
    const dy = e.clientY - p.y;
    p.x = e.clientX;
    p.y = e.clientY;
    const dt = e.timeStamp - this.lastT;
    this.lastT = e.timeStamp;
    if (this.mode === "pinch" && this.pointers.size >= 2) {
      const now = this.pinchState();
      const r = this.el.getBoundingClientRect();
      if (this.pinch.d > 0 && now.d > 0) {
        const [nx, ny] = this.ndc({ clientX: now.cx, clientY: now.cy });
        this.camera.zoom(this.pinch.d / now.d, nx, ny);
      }
      if (this.rotateEnabled) this.camera.rotate(now.cx - this.pinch.cx, now.cy - this.pinch.cy, dt);
      else this.camera.pan(now.cx - this.pinch.cx, now.cy - this.pinch.cy, r.height);
      this.pinch = now;
    } else if (this.mode === "tap") {
      this.moved += Math.abs(dx) + Math.abs(dy);
      if (this.moved > CLICK_SLOP) this.h.onHint(HINT_TOUCH);
    } else if (this.mode === "rotate") {
      this.moved += Math.abs(dx) + Math.abs(dy);
      if (this.moved > CLICK_SLOP) this.camera.rotate(dx, dy, dt);
    } else if (this.mode === "pan") {
      this.moved += Math.abs(dx) + Math.abs(dy);
      if (this.moved > CLICK_SLOP) this.camera.pan(dx, dy, this.el.getBoundingClientRect().height);
    }
    this.h.onChange(this.mode !== "tap" && this.moved > CLICK_SLOP);
  }

  up(e, cancelled = false) {
    if (!this.pointers.has(e.pointerId)) return;
    this.pointers.delete(e.pointerId);
    if (this.el.hasPointerCapture(e.pointerId)) this.el.releasePointerCapture(e.pointerId);
    if (this.pointers.size === 0) {
      const click = !cancelled && this.mode !== "pinch" && this.moved <= CLICK_SLOP &&
        this.start && this.start.button === 0;
      // Momentum only when the pointer was still moving as it was released.
      if (this.mode === "rotate" && e.timeStamp - this.lastT > 60) this.camera.stopMomentum();
      if (this.mode !== "rotate") this.camera.stopMomentum();
      this.mode = null;
      if (click) this.h.onClick(this.ndc(e), e);
      else if (e.pointerType !== "touch") this.h.onHover(this.ndc(e), e);
      this.h.onChange(!click);
    } else if (this.pointers.size === 1) {
      this.mode = e.pointerType === "touch" ? "tap" : "pan";
      this.moved = CLICK_SLOP + 1;
    }
  }

  wheel(e) {
    // Trackpad pinches arrive as wheel events with ctrlKey set, so they zoom too.
    if (!e.ctrlKey && !e.metaKey) {
      this.h.onHint(HINT_WHEEL);
      return;
    }
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const delta = Math.max(-400, Math.min(400, e.deltaY * unit));
    const [nx, ny] = this.ndc(e);
    this.camera.zoom(Math.exp(delta * 0.0015), nx, ny);
    this.h.onChange(true);
  }
}
