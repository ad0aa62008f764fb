/* The 3D network view: owns the canvas, camera, controls, renderer and labels; turns a focused
   unit and its incoming weights into highlight flags and lines; renders only while something
   moves (camera easing, layout morph) so an idle page costs nothing. */

import { rgb } from "./colormap.js";
import { OrbitCamera } from "./camera.js";
import { OrbitControls } from "./controls.js";
import { Labels } from "./labels.js";
import { across, bestFraming } from "./framing.js";
import { corners, layoutGroups, mapCorners, pick, planes, planeTop, radius, unitWorld } from "./layout.js";
import { NetRenderer } from "./net3d.js";
import { normalize, project, sub } from "./mat4.js";
import { shapeText } from "./netmodel.js";

const POSE_FLAT = { yaw: 0, pitch: 0 };
const MAX_LINES = 1600;
const MORPH = 5.5; // 1/s
const PIXEL_BUDGET = 2.4e6;
// CSS px a class label may take right of its output unit inside the framing's margin: a digit's.
// Longer names ("T-shirt/top") get the rest as room kept free at the view's right edge.
const LABEL_ROOM = 18;
const LABEL_FONT = "650 14px"; // .digit-label.win, the widest a label gets

export class NetView {
  /**
   * @param {{canvas, body, labels, onHover, onClick, onError}} opts
   * onHover({group, index} | null, event) and onClick({group, index} | null) report picks;
   * onError(message) reports a lost graphics context.
   */
  constructor(opts) {
    this.canvas = opts.canvas;
    this.body = opts.body;
    this.onHover = opts.onHover;
    this.onClick = opts.onClick;
    this.onError = opts.onError;
    this.groups = [];
    this.geoms = [];
    this.mix = 0;
    this.mixGoal = 0;
    this.dim = false;
    this.scheduled = false;
    this.last = 0;
    this.error = null;
    this.flown = null; // the group flown to (focus mode), else null
    this.room = 0; // the share of the view's width a card covers at its right (setRoom)
    try {
      this.renderer = new NetRenderer(this.canvas);
    } catch (err) {
      this.renderer = null;
      this.error = err.message;
      return;
    }
    this.camera = new OrbitCamera();
    this.labels = new Labels(opts.labels);
    this.controls = new OrbitControls(this.canvas, this.camera, {
      onChange: (moved) => {
        if (moved) this.framed = false;
        this.requestRender();
      },
      onHover: (ndc, e) => this.onHover(this.pickAt(ndc), e),
      onClick: (ndc) => this.onClick(this.pickAt(ndc)),
      onLeave: (e) => this.onHover(null, e),
      onHint: (text) => this.hint(text),
    });
    this.hintEl = document.createElement("div");
    this.hintEl.className = "view-hint";
    this.hintEl.setAttribute("role", "status");
    this.hintEl.hidden = true;
    this.body.appendChild(this.hintEl);
    this.hintTimer = 0;
    // Double-click a layer to fly to it (framed face-on); R or "Reset view" comes back.
    this.canvas.addEventListener("dblclick", (e) => {
      const r = this.canvas.getBoundingClientRect();
      const hit = this.pickAt([((e.clientX - r.left) / r.width) * 2 - 1, 1 - ((e.clientY - r.top) / r.height) * 2]);
      if (hit) this.flyTo(hit.group);
    });
    this.canvas.addEventListener("webglcontextlost", (e) => {
      e.preventDefault();
      this.error = "the graphics context was lost; reload the page to get the 3D view back";
      this.onHover(null, e);
      this.onError(this.error);
    });
    new ResizeObserver(() => this.resize()).observe(this.body);
    this.resize();
  }

  get ready() {
    return Boolean(this.renderer) && !this.error;
  }

  resize() {
    if (!this.renderer) return;
    const w = Math.max(1, this.body.clientWidth);
    const h = Math.max(1, this.body.clientHeight);
    let dpr = Math.min(window.devicePixelRatio || 1, 2);
    if (w * h * dpr * dpr > PIXEL_BUDGET) dpr = Math.max(1, Math.sqrt(PIXEL_BUDGET / (w * h)));
    this.renderer.resize(Math.round(w * dpr), Math.round(h * dpr));
    this.cssSize = [w, h];
    this.camera.aspect = w / h;
    if (this.groups.length) {
      // Spacing, 3D angle and the flat layout's rows suit the view's shape.
      const before = this.geoms;
      this.plan();
      const moved = (g, i) => ["x3", "y3", "xF", "yF"].some((k) => g[k] !== before[i][k]);
      if (this.geoms.some(moved)) {
        this.renderer.updateGeometry(this.geoms);
        this.setFocus(null, null);
      } else {
        this.geoms = before;
      }
      // Untouched by the user, the picture keeps filling the view.
      if (this.framed) this.fit(true);
    }
    this.requestRender();
  }

  /** New architecture: lay out every unit, rebuild buffers and labels, frame the camera. */
  setGroups(groups, hidden) {
    if (!this.renderer) return;
    this.groups = groups;
    this.hidden = hidden;
    this.plan();
    this.renderer.setGeometry(this.geoms);
    this.buildLabels();
    this.fit(true);
  }

  /** Same architecture, different hidden set: move planes, keep values. */
  setHidden(hidden) {
    if (!this.renderer) return;
    this.hidden = hidden;
    this.plan();
    this.renderer.updateGeometry(this.geoms);
    this.labels.items.forEach((item) => { item.visible = this.geoms[item.group].visible; });
    this.setFocus(null, null);
    this.fit(false);
  }

  /** Lay out the groups with the plane spacing and 3D angle that suit this model and view (the
      part of it left of the output labels' room). */
  plan() {
    const share = this.labelShare();
    const aspect = this.camera.aspect;
    this.camera.aspect = aspect * (1 - share);
    const best = bestFraming(planes(this.groups, this.hidden), this.camera,
      [this.cssSize[0] * (1 - share), this.cssSize[1]]);
    this.camera.aspect = aspect;
    this.pose3d = { yaw: best.yaw, pitch: best.pitch };
    this.geoms = layoutGroups(this.groups, this.hidden, this.camera.aspect, best.spread, best.rise);
  }

  /** The share of the view's width the output units' class names need beyond a digit's room
      (0 for MNIST's digits; "T-shirt/top" needs about a tenth of a laptop's view). */
  labelShare() {
    const out = this.groups[this.groups.length - 1];
    if (!out?.isOutput || this.hidden?.has(out.head.name) || !this.cssSize) return 0;
    this.measurer ||= document.createElement("canvas").getContext("2d");
    this.measurer.font = `${LABEL_FONT} ${getComputedStyle(this.labels.container).fontFamily}`;
    const widest = Math.max(...out.classes.map((c) => this.measurer.measureText(c).width));
    return Math.min(0.3, Math.max(0, widest - LABEL_ROOM) / this.cssSize[0]);
  }

  /** camera.frame(pts, yaw, pitch, margin, bottom) within the view's left part: the share
      `right` of its width is kept free (for a card, or the output labels). */
  frameLeft(pts, yaw, pitch, margin, bottom, right) {
    const aspect = this.camera.aspect;
    this.camera.aspect = aspect * (1 - right);
    const pose = this.camera.frame(pts, yaw, pitch, margin, bottom);
    this.camera.aspect = aspect;
    if (right > 0) {
      // The target goes right of the picture's centre by the width kept free, so the picture
      // sits left of it.
      const { right: across } = this.camera.basis(pose);
      const shift = right * Math.tan(this.camera.fov / 2) * aspect * pose.dist;
      pose.target = pose.target.map((v, k) => v + across[k] * shift);
    }
    return pose;
  }

  buildLabels() {
    const items = [];
    this.groups.forEach((g, gi) => {
      const geom = this.geoms[gi];
      items.push({
        group: gi, visible: geom.visible, className: "layer-label", declutter: true,
        parts: [[g.title, "l-title"], [shapeText(g.shape), "l-shape"]],
        anchor: (mix) => planeTop(this.geoms[gi], mix),
      });
    });
    const out = this.groups.length - 1;
    if (this.groups[out]?.isOutput) {
      this.groups[out].classes.forEach((name, i) => {
        items.push({
          group: out, visible: this.geoms[out].visible, className: "digit-label", parts: [[name, ""]],
          anchor: (mix) => {
            const geom = this.geoms[out];
            const off = geom.pitch * 0.95;
            const p = unitWorld(geom, i, mix);
            return [p[0] + off * mix, p[1], p[2] + off * (1 - mix)];
          },
        });
      });
    }
    this.labels.set(items);
    this.digitBase = this.groups.length;
  }

  /** Mark the predicted class's label. */
  setPredicted(label) {
    if (!this.renderer) return;
    const n = this.groups[this.groups.length - 1]?.isOutput ? this.groups[this.groups.length - 1].classes.length : 0;
    for (let i = 0; i < n; i++) this.labels.classify(this.digitBase + i, "win", i === label);
  }

  /** Per-group LUT indices (from netmodel.displayValues). */
  setValues(display) {
    if (!this.renderer) return;
    display.forEach((d, i) => this.renderer.setValues(i, d.norm));
    this.requestRender();
  }

  /** An attribution heatmap over the input layer (values in [-1, 1] per pixel), or null. */
  setOverlay(values) {
    if (!this.renderer) return;
    this.renderer.setOverlay(values);
    this.requestRender();
  }

  setLayout(mode) {
    if (!this.renderer) return;
    this.mixGoal = mode === "flat" ? 1 : 0;
    this.controls.rotateEnabled = mode !== "flat";
    this.setFocus(null, null);
    this.fit(false);
  }

  /** Briefly show how to move the camera (a gesture went to the page instead). */
  hint(text) {
    this.hintEl.textContent = text;
    this.hintEl.hidden = false;
    clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => { this.hintEl.hidden = true; }, 1600);
  }

  /** Focus mode: fly to group `gi`, framed nearly face-on so its smallest maps can be read. */
  flyTo(gi) {
    const g = this.geoms[gi];
    if (!g || !g.visible) return;
    this.framed = false;
    this.flown = gi;
    const flat = this.mixGoal > 0.5;
    const pts = corners(this.geoms.map((o, i) => ({ ...o, visible: i === gi })), this.mixGoal);
    const { yaw, pitch } = flat ? POSE_FLAT : { yaw: -1.3, pitch: 0.15 };
    const right = this.groups[gi].isOutput ? this.labelShare() : 0;
    this.camera.setPose(this.frameLeft(pts, yaw, pitch, 0.1, 0, right), false);
    // Layers between the camera and this one are clipped away rather than hiding it.
    this.camera.clip = flat ? 0 : 0.7;
    this.requestRender();
  }

  /** Frame every visible layer with the layout's default angle. */
  fit(immediate) {
    this.framed = true;
    this.flown = null;
    this.camera.clip = 0;
    this.camera.radius = radius(this.geoms, this.mixGoal);
    const { yaw, pitch } = this.mixGoal > 0.5 ? POSE_FLAT : this.pose3d;
    this.camera.setPose(this.frameLeft(corners(this.geoms, this.mixGoal), yaw, pitch, undefined, undefined,
      this.labelShare() + this.room), immediate);
    this.canvas.dataset.moving = "1";
    this.requestRender();
  }

  /**
   * A card (the unit panel) now covers `px` CSS pixels at the right of the view, or none (0): a
   * picture the user has not moved is framed again in the part left free.
   */
  setRoom(px) {
    if (!this.renderer) return;
    const room = this.cssSize ? Math.min(0.6, Math.max(0, px) / this.cssSize[0]) : 0;
    if (Math.abs(room - this.room) < 0.005) return;
    this.room = room;
    if (this.framed && this.groups.length) this.fit(false);
  }

  /** The camera's goal pose {yaw, pitch, dist, target} (a shared link keeps it), or null. */
  pose() {
    return this.renderer ? { ...this.camera.goal, target: this.camera.goal.target.slice() } : null;
  }

  /** Jump to a pose from pose(); the view keeps it until the user or a fit moves it. */
  showPose(pose) {
    if (!this.renderer) return;
    this.framed = false;
    this.flown = null;
    this.camera.clip = 0;
    this.camera.setPose(pose, true);
    this.requestRender();
  }

  /**
   * Frame groups `gis` from orientation {yaw, pitch} (a tour step's shot; flat: face-on),
   * easing there, within the part of the view a card leaves free: `free.right` and
   * `free.bottom` are the fractions of the view's width and height it covers. A single layer is
   * shown in focus mode, the layers before it clipped away.
   */
  shoot(gis, yaw, pitch, free = { right: 0, bottom: 0.2 }) {
    if (!this.renderer) return;
    const shown = new Set(gis.filter((gi) => this.geoms[gi]?.visible));
    if (!shown.size) {
      this.fit(false);
      return;
    }
    this.framed = false;
    this.flown = shown.size === 1 ? [...shown][0] : null;
    const flat = this.mixGoal > 0.5;
    const pts = corners(this.geoms.map((o, i) => ({ ...o, visible: shown.has(i) })), this.mixGoal);
    // Framed for a view as wide as the free part (less the output labels' room when they show).
    const labels = shown.has(this.groups.length - 1) ? this.labelShare() : 0;
    const pose = this.frameLeft(pts, flat ? 0 : yaw, flat ? 0 : pitch, 0.1, free.bottom, free.right + labels);
    this.camera.setPose(pose, false);
    this.canvas.dataset.moving = "1";
    // As in flyTo: the layers in front of a single one are clipped away.
    this.camera.clip = !flat && shown.size === 1 ? 0.7 : 0;
    this.requestRender();
  }

  /** Light the groups in `lit` (a Set of group indices; `bright` one of them glows) and dim the
      rest, or clear with null: the forward pass played layer by layer. */
  setLit(lit, bright = -1) {
    if (!this.renderer) return;
    const flags = new Map();
    if (lit) {
      this.geoms.forEach((g, gi) => {
        if (lit.has(gi)) flags.set(gi, new Uint8Array(g.count).fill(gi === bright ? 2 : 1));
      });
    }
    this.dim = Boolean(lit);
    this.renderer.setFlags(flags, null);
    this.renderer.setLines(new Float32Array(0), new Uint8Array(0));
    this.requestRender();
  }

  pickAt(ndc) {
    if (!this.ready || (this.mix > 0.001 && this.mix < 0.999)) return null;
    return pick(this.geoms, this.camera.ray(ndc[0], ndc[1]), this.mix);
  }

  /**
   * Highlight `unit` ({group, index}) and draw its incoming connections `links`
   * ({indices, weights} into the previous group), or clear with (null, null).
   */
  setFocus(unit, links) {
    if (!this.renderer) return;
    this.dim = false;
    const flags = new Map();
    let positions = new Float32Array(0);
    let colors = new Uint8Array(0);
    if (unit) {
      const own = new Uint8Array(this.geoms[unit.group].count);
      own[unit.index] = 2;
      flags.set(unit.group, own);
      const pi = unit.group - 1;
      if (links && pi >= 0 && this.geoms[pi].visible) {
        ({ positions, colors } = this.lines(unit, pi, links));
        this.dim = true;
        const src = new Uint8Array(this.geoms[pi].count);
        for (const i of links.indices) src[i] = 1;
        flags.set(pi, src);
      }
    }
    this.renderer.setFlags(flags, unit);
    this.renderer.setLines(positions, colors);
    this.requestRender();
  }

  lines(unit, pi, links) {
    const target = this.geoms[unit.group];
    const source = this.geoms[pi];
    let order = Array.from(links.indices.keys());
    if (order.length > MAX_LINES) {
      order.sort((a, b) => Math.abs(links.weights[b]) - Math.abs(links.weights[a]));
      order = order.slice(0, MAX_LINES);
    }
    let maxAbs = 0;
    for (const k of order) maxAbs = Math.max(maxAbs, Math.abs(links.weights[k]));
    const many = order.length > 200;
    const positions = new Float32Array(order.length * 12);
    const colors = new Uint8Array(order.length * 8);
    const t = unit.index * 3;
    order.forEach((k, n) => {
      const s = links.indices[k] * 3;
      const w = maxAbs > 0 ? links.weights[k] / maxAbs : 0;
      const a = Math.abs(w);
      // Strong weights bright and opaque; with hundreds of lines the weak ones nearly vanish.
      const alpha = many ? 0.025 + 0.5 * a * a : 0.25 + 0.75 * a;
      const [r, g, b] = rgb(0.25 * Math.sign(w) + 0.75 * w);
      const o = n * 12;
      positions.set([source.pos3[s], source.pos3[s + 1], source.pos3[s + 2],
        source.posF[s], source.posF[s + 1], source.posF[s + 2],
        target.pos3[t], target.pos3[t + 1], target.pos3[t + 2],
        target.posF[t], target.posF[t + 1], target.posF[t + 2]], o);
      const c = [r, g, b, Math.round(alpha * 255)];
      colors.set(c, n * 8);
      colors.set(c, n * 8 + 4);
    });
    return { positions, colors };
  }

  /**
   * On-screen size across (CSS px, the narrower of its two directions) of the smallest feature
   * map shown (of the layer flown to, in focus mode), with its group's title: how legible the
   * picture is at this pose.
   */
  smallestMap(viewProj) {
    let best = { px: Infinity, title: "" };
    const [w, h] = this.cssSize;
    this.geoms.forEach((g, gi) => {
      if (!g.visible || g.box || (this.flown != null && gi !== this.flown)) return;
      for (let c = 0; c < g.C; c++) {
        const q = mapCorners(g, c, this.mix).map((p) => project(viewProj, p));
        if (q.some((p) => p[3] <= 0)) continue;
        const px = Math.min(...across(q.map((p) => [(p[0] * w) / 2, (p[1] * h) / 2])));
        if (px < best.px) best = { px, title: this.groups[gi].title };
      }
    });
    return best;
  }

  /** Draw on the next animation frame; canvas[data-still] is "1" once a frame has drawn the
      latest state and nothing is left moving (the browser tests wait for it), and then
      canvas[data-min-map] and [data-min-map-layer] tell the smallest map (smallestMap()). */
  requestRender() {
    if (!this.renderer) return;
    this.canvas.dataset.still = "0";
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame((t) => this.frame(t));
  }

  frame(now) {
    this.scheduled = false;
    if (this.error) return;
    const dt = this.last ? Math.min(0.05, (now - this.last) / 1000) : 1 / 60;
    this.last = now;
    let moving = this.camera.update(dt);
    this.canvas.dataset.moving = moving ? "1" : "0"; // the camera (not the highlights) in motion
    if (Math.abs(this.mixGoal - this.mix) > 1e-3) {
      this.mix += (this.mixGoal - this.mix) * (1 - Math.exp(-MORPH * dt));
      moving = true;
    } else {
      this.mix = this.mixGoal;
    }
    const { viewProj, eye } = this.camera.matrices();
    const toEye = normalize(sub(eye, this.camera.cur.target));
    this.renderer.render({ viewProj, mix: this.mix, focus: this.dim, toEye, eye });
    this.labels.update(viewProj, this.cssSize[0], this.cssSize[1], this.mix);
    if (moving) {
      this.requestRender();
    } else {
      this.last = 0;
      const small = this.smallestMap(viewProj);
      this.canvas.dataset.minMap = small.px.toFixed(1);
      this.canvas.dataset.minMapLayer = small.title;
      this.canvas.dataset.still = "1";
    }
  }
}
