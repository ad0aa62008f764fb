/* An orbit camera (yaw, pitch, distance around a target) that eases toward its goal pose and
   keeps a little momentum after a drag, so orbiting feels smooth rather than steppy. */

import { add, cross, dot, lookAt, multiply, normalize, perspective, scale, sub } from "./mat4.js";

const FOV = (26 * Math.PI) / 180;
const PITCH_LIMIT = 1.5;
const EASE = 16; // 1/s: how fast the shown pose follows the goal
const FRICTION = 3.5; // 1/s: how fast momentum dies

const clampPitch = (p) => Math.max(-PITCH_LIMIT, Math.min(PITCH_LIMIT, p));

export class OrbitCamera {
  constructor() {
    this.goal = { yaw: 0, pitch: 0, dist: 300, target: [0, 0, 0] };
    this.cur = { yaw: 0, pitch: 0, dist: 300, target: [0, 0, 0] };
    this.vel = { yaw: 0, pitch: 0 };
    this.radius = 200;
    this.aspect = 1;
    this.fov = FOV;
    this.clip = 0; // > 0: the near plane at this fraction of the distance (focus on one layer)
  }

  /** Jump or ease to a pose {yaw, pitch, dist, target}. */
  setPose(pose, immediate = false) {
    this.goal = { ...this.goal, ...pose, target: (pose.target || this.goal.target).slice() };
    this.vel = { yaw: 0, pitch: 0 };
    if (immediate) this.cur = { ...this.goal, target: this.goal.target.slice() };
  }

  /**
   * The pose with orientation {yaw, pitch} that frames every point with `margin` (fraction of
   * the view) to spare, centred, at the shortest distance. The bottom `reserve` of the view is
   * kept free for the legend when the picture would otherwise reach into it.
   */
  frame(points, yaw, pitch, margin = 0.07, reserve = 0.14) {
    const pose = { yaw, pitch, dist: 1, target: [0, 0, 0] };
    const n = points.length;
    pose.target = [0, 1, 2].map((k) => points.reduce((a, p) => a + p[k], 0) / n);
    const t = Math.tan(this.fov / 2);
    const tv = t * (1 - margin);
    const th = tv * this.aspect;
    const { forward, right, up } = this.basis({ ...pose, dist: 1 });
    const camera = (p) => {
      const d = sub(p, pose.target);
      return [dot(d, right), dot(d, up), dot(d, forward)];
    };
    let half = 0;
    for (let pass = 0; pass < 3; pass++) {
      let dist = 0;
      for (const p of points) {
        const [x, y, z] = camera(p);
        dist = Math.max(dist, Math.abs(x) / th - z, Math.abs(y) / tv - z);
      }
      pose.dist = dist;
      // Re-centre on the projected extent so the picture sits in the middle of the view.
      let lx = Infinity; let hx = -Infinity; let ly = Infinity; let hy = -Infinity;
      for (const p of points) {
        const [x, y, z] = camera(p);
        lx = Math.min(lx, x / (dist + z)); hx = Math.max(hx, x / (dist + z));
        ly = Math.min(ly, y / (dist + z)); hy = Math.max(hy, y / (dist + z));
      }
      pose.target = add(pose.target, add(scale(right, ((lx + hx) / 2) * dist), scale(up, ((ly + hy) / 2) * dist)));
      half = (hy - ly) / 2 / t;
    }
    // Half-height `half` (NDC) centred; lift it just enough to clear the reserved strip.
    if (half > 1 - reserve) {
      pose.dist *= half / (1 - reserve);
      half = 1 - reserve;
    }
    const lift = Math.max(0, half - 1 + 2 * reserve);
    pose.target = sub(pose.target, scale(up, lift * t * pose.dist));
    return pose;
  }

  rotate(dx, dy, dtMs) {
    const dyaw = -dx * 0.0055;
    const dpitch = dy * 0.0045;
    this.goal.yaw += dyaw;
    this.goal.pitch = clampPitch(this.goal.pitch + dpitch);
    if (dtMs > 0) {
      const k = 1000 / Math.max(dtMs, 8);
      this.vel.yaw = 0.6 * this.vel.yaw + 0.4 * dyaw * k;
      this.vel.pitch = 0.6 * this.vel.pitch + 0.4 * dpitch * k;
    }
  }

  stopMomentum() {
    this.vel = { yaw: 0, pitch: 0 };
  }

  /** Pan by a screen offset in CSS pixels, given the viewport height in CSS pixels. */
  pan(dx, dy, viewportHeight) {
    const perPixel = (2 * this.goal.dist * Math.tan(this.fov / 2)) / viewportHeight;
    const { right, up } = this.basis(this.goal);
    this.goal.target = add(this.goal.target, add(scale(right, -dx * perPixel), scale(up, dy * perPixel)));
  }

  /** Zoom by `factor` (< 1 is closer) toward the point under the cursor (NDC coordinates). */
  zoom(factor, ndcX = 0, ndcY = 0) {
    const dist = Math.max(this.radius * 0.04, Math.min(this.radius * 8, this.goal.dist * factor));
    const applied = dist / this.goal.dist;
    const { right, up } = this.basis(this.goal);
    const half = Math.tan(this.fov / 2) * this.goal.dist;
    const under = add(this.goal.target, add(scale(right, ndcX * half * this.aspect), scale(up, ndcY * half)));
    this.goal.target = add(this.goal.target, scale(sub(under, this.goal.target), 1 - applied));
    this.goal.dist = dist;
  }

  /** Advance easing and momentum; returns true while the camera is still moving. */
  update(dt) {
    const speed = Math.abs(this.vel.yaw) + Math.abs(this.vel.pitch);
    if (speed > 1e-3) {
      this.goal.yaw += this.vel.yaw * dt;
      this.goal.pitch = clampPitch(this.goal.pitch + this.vel.pitch * dt);
      const decay = Math.exp(-FRICTION * dt);
      this.vel.yaw *= decay;
      this.vel.pitch *= decay;
    } else {
      this.vel.yaw = 0;
      this.vel.pitch = 0;
    }
    const a = 1 - Math.exp(-EASE * dt);
    const c = this.cur;
    const g = this.goal;
    c.yaw += (g.yaw - c.yaw) * a;
    c.pitch += (g.pitch - c.pitch) * a;
    c.dist += (g.dist - c.dist) * a;
    c.target = c.target.map((v, i) => v + (g.target[i] - v) * a);
    const err = Math.abs(g.yaw - c.yaw) + Math.abs(g.pitch - c.pitch) +
      Math.abs(g.dist - c.dist) / c.dist + Math.hypot(...sub(g.target, c.target)) / c.dist;
    if (err < 1e-4 && speed <= 1e-3) {
      this.cur = { ...g, target: g.target.slice() };
      return false;
    }
    return true;
  }

  eye(pose = this.cur) {
    const cp = Math.cos(pose.pitch);
    const offset = [cp * Math.sin(pose.yaw), Math.sin(pose.pitch), cp * Math.cos(pose.yaw)];
    return add(pose.target, scale(offset, pose.dist));
  }

  basis(pose = this.cur) {
    const forward = normalize(sub(pose.target, this.eye(pose)));
    const right = normalize(cross(forward, [0, 1, 0]));
    const up = cross(right, forward);
    return { forward, right, up };
  }

  /** View and projection of `pose` (the shown pose by default). */
  matrices(pose = this.cur) {
    const eye = this.eye(pose);
    const near = this.clip > 0 ? pose.dist * this.clip : Math.max(0.5, pose.dist - this.radius * 3) * 0.25;
    const far = pose.dist + this.radius * 4;
    const view = lookAt(eye, pose.target, [0, 1, 0]);
    const proj = perspective(this.fov, this.aspect, near, far);
    return { view, proj, viewProj: multiply(proj, view), eye };
  }

  /** World-space ray through NDC point (x, y). */
  ray(ndcX, ndcY) {
    const { forward, right, up } = this.basis();
    const t = Math.tan(this.fov / 2);
    const dir = normalize(add(forward, add(scale(right, ndcX * t * this.aspect), scale(up, ndcY * t))));
    return { origin: this.eye(), dir };
  }
}
