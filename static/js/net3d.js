/* WebGL2 renderer of the network; it only paints. Every unit gets its own cell:
   - feature maps are instanced quads, one instance per map; the fragment shader finds the unit
     under each pixel, reads its colour (mapped on the CPU) and highlight from the layer's data
     texture and draws the cell with an antialiased gap border (crisp without MSAA, no shimmer
     when cells shrink); planes are drawn nearest first so hidden fragments are skipped;
   - vector layers (affine outputs) and the focused unit are boxes, instanced in chunks of
     CHUNK units with corners generated from gl_VertexID.
   SwiftShader pays a fixed cost per instance and per vertex, which one instance per unit (or six
   vertices per unit of a big map) would multiply. Unit positions follow layout.js: the
   shaders mirror its unitUV() from the same grid numbers.
   The input layer can carry an overlay (an attribution heatmap): a second per-unit RGBA texture
   blended over its colours, read only while drawing that layer. */

import { LUT, heatRgba } from "./colormap.js";

const CHUNK = 256;
const TEX_W = 1024;
const TEX_SHIFT = Math.log2(TEX_W);
const BACKGROUND = [0.047, 0.063, 0.094];

const COMMON = `#version 300 es
precision highp float;
precision highp int;
uniform mat4 u_viewProj;
uniform float u_mix;
uniform ivec4 u_grid;   // W, H, gap, cols (in cells)
uniform vec2 u_cells;   // grid width and height in cells
uniform float u_pitch;  // world size of one cell
uniform vec4 u_plane;   // x of the plane in 3D, centre x and y in the flat layout, y in 3D
uniform float u_focus;
uniform highp usampler2D u_data;
const vec3 KEY = vec3(-0.32, 0.80, 0.50);
/* Grid cell coordinates (x right, y down) -> world, blending 3D (plane across x) and flat. */
vec3 world(vec2 cell, vec3 offset3, vec3 offsetF) {
  float u = (cell.x - u_cells.x * 0.5) * u_pitch;
  float v = -(cell.y - u_cells.y * 0.5) * u_pitch;
  vec3 p3 = vec3(u_plane.x, v + u_plane.w, u) + offset3;
  vec3 pF = vec3(u_plane.y + u, v + u_plane.z, 0.0) + offsetF;
  return mix(p3, pF, u_mix);
}
/* Top-left cell of map c. */
vec2 mapOrigin(int c) {
  int mc = c - (c / u_grid.w) * u_grid.w;
  int mr = c / u_grid.w;
  return vec2(float(mc * (u_grid.x + u_grid.z)), float(mr * (u_grid.y + u_grid.z)));
}
/* A unit's colour (rgb, already through the colour map) and highlight flag (a). */
uvec4 unitData(int unit) {
  return texelFetch(u_data, ivec2(unit & ${TEX_W - 1}, unit >> ${TEX_SHIFT}), 0);
}
vec3 shade(vec3 c, float flag) {
  if (flag > 1.5) c = mix(c, vec3(1.0), 0.55);
  if (u_focus > 0.5 && flag < 0.5) c = mix(c, vec3(dot(c, vec3(0.33))), 0.5) * 0.3;
  return c;
}
`;

const MAP_VS = `${COMMON}
out vec2 v_cell;
flat out int v_map;
void main() {
  vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
  vec2 size = vec2(float(u_grid.x), float(u_grid.y));
  v_cell = corner * size;
  v_map = gl_InstanceID;
  gl_Position = u_viewProj * vec4(world(mapOrigin(gl_InstanceID) + v_cell, vec3(0.0), vec3(0.0)), 1.0);
}`;

const MAP_FS = `${COMMON}
uniform float u_lit;
uniform vec3 u_gap;
uniform float u_overlay;
uniform highp usampler2D u_over;
in vec2 v_cell;
flat in int v_map;
out vec4 o;
void main() {
  ivec2 xy = clamp(ivec2(v_cell), ivec2(0), u_grid.xy - 1);
  int unit = (v_map * u_grid.y + xy.y) * u_grid.x + xy.x;
  uvec4 d = unitData(unit);
  float flag = float(d.a);
  vec3 c = vec3(d.rgb) / 255.0;
  if (u_overlay > 0.5) {
    uvec4 h = texelFetch(u_over, ivec2(unit & ${TEX_W - 1}, unit >> ${TEX_SHIFT}), 0);
    c = mix(c, vec3(h.rgb) / 255.0, float(h.a) / 255.0);
  }
  c = shade(c, flag) * u_lit;
  // The gap between units: a dark border inside each cell, antialiased with derivatives and
  // faded out once cells get close to a pixel, where it could only alias.
  vec2 f = fract(v_cell);
  vec2 e2 = min(f, 1.0 - f);
  float e = min(e2.x, e2.y);
  vec2 fw = fwidth(v_cell);
  float aa = max(fw.x, fw.y);
  float inside = smoothstep(0.08 - aa * 0.5, 0.08 + aa * 0.5, e);
  float strength = 1.0 - smoothstep(0.2, 0.45, aa);
  vec3 gap = flag > 1.5 ? vec3(1.0, 0.93, 0.75) : u_gap;
  o = vec4(mix(c, gap, (1.0 - inside) * strength), 1.0);
}`;

const BOX_VS = `${COMMON}
uniform int u_first;
uniform int u_count;
uniform float u_size;
uniform vec3 u_toEye;
uniform float u_marker;
out vec3 v_color;
const vec3 CORNER[8] = vec3[8](vec3(-0.5, -0.5, -0.5), vec3(0.5, -0.5, -0.5), vec3(0.5, 0.5, -0.5),
  vec3(-0.5, 0.5, -0.5), vec3(-0.5, -0.5, 0.5), vec3(0.5, -0.5, 0.5), vec3(0.5, 0.5, 0.5), vec3(-0.5, 0.5, 0.5));
const int BOX[36] = int[36](0, 2, 1, 0, 3, 2,  4, 5, 6, 4, 6, 7,  0, 1, 5, 0, 5, 4,
                            3, 7, 6, 3, 6, 2,  0, 4, 7, 0, 7, 3,  1, 2, 6, 1, 6, 5);
const vec3 NORMAL[6] = vec3[6](vec3(0, 0, -1), vec3(0, 0, 1), vec3(0, -1, 0),
                               vec3(0, 1, 0), vec3(-1, 0, 0), vec3(1, 0, 0));
void main() {
  int local = gl_VertexID / 36;
  int k = gl_VertexID - local * 36;
  int unit = u_first + gl_InstanceID * ${CHUNK} + local;
  if (unit >= u_count) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); return; }
  int hw = u_grid.x * u_grid.y;
  int c = unit / hw;
  int r = unit - c * hw;
  int y = r / u_grid.x;
  vec2 cell = mapOrigin(c) + vec2(float(r - y * u_grid.x), float(y)) + 0.5;
  uvec4 d = unitData(unit);
  float flag = float(d.a);
  float grow = u_marker > 0.5 ? 1.0 : (flag > 1.5 ? 1.6 : (flag > 0.5 ? 1.12 : 1.0));
  vec3 offset = CORNER[BOX[k]] * u_size * u_pitch * grow;
  // A marker floats just in front of its plane, so it reads as raised out of the map.
  vec3 lift3 = vec3(-u_marker * u_pitch * 0.6, 0.0, 0.0);
  vec3 liftF = vec3(0.0, 0.0, u_marker * u_pitch * 0.6);
  gl_Position = u_viewProj * vec4(world(cell, offset + lift3, offset + liftF), 1.0);
  vec3 normal = NORMAL[k / 6];
  float lit = 0.6 + 0.28 * max(dot(normal, u_toEye), 0.0) + 0.16 * max(dot(normal, KEY), 0.0);
  v_color = shade(vec3(d.rgb) / 255.0, max(flag, u_marker * 2.0)) * lit;
}`;

const BOX_FS = `#version 300 es
precision mediump float;
in vec3 v_color;
out vec4 o;
void main() { o = vec4(v_color, 1.0); }`;

const LINE_VS = `#version 300 es
layout(location = 0) in vec3 a_p3;
layout(location = 1) in vec3 a_pF;
layout(location = 2) in vec4 a_color;
uniform mat4 u_viewProj;
uniform float u_mix;
out vec4 v_color;
void main() {
  gl_Position = u_viewProj * vec4(mix(a_p3, a_pF, u_mix), 1.0);
  v_color = a_color;
}`;

const LINE_FS = `#version 300 es
precision mediump float;
in vec4 v_color;
out vec4 o;
void main() { o = v_color; }`;

function compile(gl, vs, fs) {
  const prog = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const sh = gl.createShader(type);
    gl.shaderSource(sh, src);
    gl.compileShader(sh);
    if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
    gl.attachShader(prog, sh);
  }
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  const uniforms = {};
  const n = gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < n; i++) {
    const name = gl.getActiveUniform(prog, i).name;
    uniforms[name] = gl.getUniformLocation(prog, name);
  }
  return { prog, uniforms };
}

const rowsFor = (count) => Math.max(1, Math.ceil(count / TEX_W));

export class NetRenderer {
  constructor(canvas) {
    const gl = canvas.getContext("webgl2", {
      antialias: false, alpha: false, depth: true, powerPreference: "high-performance",
    });
    if (!gl) throw new Error("this browser has no WebGL2");
    this.gl = gl;
    this.canvas = canvas;
    this.mapProg = compile(gl, MAP_VS, MAP_FS);
    this.boxProg = compile(gl, BOX_VS, BOX_FS);
    this.lineProg = compile(gl, LINE_VS, LINE_FS);
    this.emptyVao = gl.createVertexArray();
    this.layers = [];
    this.marker = null;
    this.overlay = null; // heat values of the input layer's units, or null
    this.overTex = gl.createTexture(); // always bound on unit 1, so the sampler never dangles
    gl.bindTexture(gl.TEXTURE_2D, this.overTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8UI, TEX_W, 1, 0, gl.RGBA_INTEGER, gl.UNSIGNED_BYTE, new Uint8Array(TEX_W * 4));
    this.nearest();
    this.overRows = 1;
    this.lineVao = gl.createVertexArray();
    this.linePos = gl.createBuffer();
    this.lineCol = gl.createBuffer();
    this.lineCount = 0;
    gl.bindVertexArray(this.lineVao);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.linePos);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 3, gl.FLOAT, false, 24, 0);
    gl.enableVertexAttribArray(1);
    gl.vertexAttribPointer(1, 3, gl.FLOAT, false, 24, 12);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.lineCol);
    gl.enableVertexAttribArray(2);
    gl.vertexAttribPointer(2, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    gl.bindVertexArray(null);
  }

  nearest() {
    const gl = this.gl;
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  }

  /** Replace the drawn layers with new geometry (from layout.js). */
  setGeometry(geoms) {
    const gl = this.gl;
    for (const l of this.layers) gl.deleteTexture(l.tex);
    this.layers = geoms.map((g) => {
      const data = new Uint8Array(rowsFor(g.count) * TEX_W * 4);
      for (let i = 0; i < g.count; i++) data.set(LUT.subarray(128 * 4, 128 * 4 + 3), i * 4);
      const tex = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8UI, TEX_W, rowsFor(g.count), 0, gl.RGBA_INTEGER, gl.UNSIGNED_BYTE, data);
      this.nearest();
      return { geom: g, data, tex, flagged: false };
    });
    this.marker = null;
    this.lineCount = 0;
    this.uploadOverlay();
  }

  /**
   * Attribution values in [-1, 1], one per unit of the first (input) layer, laid over its
   * colours; null removes the overlay.
   */
  setOverlay(values) {
    this.overlay = values;
    this.uploadOverlay();
  }

  uploadOverlay() {
    const l = this.layers[0];
    if (!this.overlay || !l || this.overlay.length !== l.geom.count) return;
    const gl = this.gl;
    const rows = rowsFor(l.geom.count);
    const data = new Uint8Array(rows * TEX_W * 4);
    for (let k = 0; k < this.overlay.length; k++) data.set(heatRgba(this.overlay[k]), k * 4);
    gl.bindTexture(gl.TEXTURE_2D, this.overTex);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    if (rows !== this.overRows) {
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8UI, TEX_W, rows, 0, gl.RGBA_INTEGER, gl.UNSIGNED_BYTE, data);
      this.nearest();
      this.overRows = rows;
    } else {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RGBA_INTEGER, gl.UNSIGNED_BYTE, data);
    }
  }

  /** The input layer when an overlay of its size is uploaded, else null. */
  overlaid() {
    const l = this.layers[0];
    return this.overlay && l && this.overlay.length === l.geom.count ? l : null;
  }

  /** Same layers, new positions (a layer hidden or shown). */
  updateGeometry(geoms) {
    geoms.forEach((g, i) => { this.layers[i].geom = g; });
  }

  upload(l) {
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D, l.tex);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rowsFor(l.geom.count), gl.RGBA_INTEGER, gl.UNSIGNED_BYTE, l.data);
  }

  /** LUT indices (Uint8Array, one per unit) of layer `i`, stored as colours. */
  setValues(i, norm) {
    const l = this.layers[i];
    if (!l || norm.length !== l.geom.count) return;
    for (let k = 0; k < norm.length; k++) {
      const c = norm[k] * 4;
      l.data[k * 4] = LUT[c];
      l.data[k * 4 + 1] = LUT[c + 1];
      l.data[k * 4 + 2] = LUT[c + 2];
    }
    this.upload(l);
  }

  /**
   * Highlight flags: Map layer → Uint8Array (1 = source, 2 = focused unit), others cleared;
   * `marker` {group, index} is drawn as a raised box.
   */
  setFlags(flags, marker) {
    this.layers.forEach((l, i) => {
      const f = flags.get(i);
      if (!f && !l.flagged) return;
      for (let k = 0; k < l.geom.count; k++) l.data[k * 4 + 3] = f ? f[k] : 0;
      l.flagged = Boolean(f);
      this.upload(l);
    });
    this.marker = marker;
  }

  /** Connection lines: positions (6 floats per vertex: 3D then flat), RGBA bytes per vertex. */
  setLines(positions, colors) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.linePos);
    gl.bufferData(gl.ARRAY_BUFFER, positions, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.lineCol);
    gl.bufferData(gl.ARRAY_BUFFER, colors, gl.DYNAMIC_DRAW);
    this.lineCount = positions.length / 6;
  }

  resize(width, height) {
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
  }

  /** Uniforms shared by both programs for layer `l`. */
  layerUniforms(u, l) {
    const gl = this.gl;
    const g = l.geom;
    gl.uniform4i(u.u_grid, g.W, g.H, g.gap, g.cols);
    gl.uniform2f(u.u_cells, g.cellsW, g.cellsH);
    gl.uniform1f(u.u_pitch, g.pitch);
    gl.uniform4f(u.u_plane, g.x3, g.xF, g.yF, g.y3);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, l.tex);
  }

  frameUniforms(prog, { viewProj, mix, focus }) {
    const gl = this.gl;
    const u = prog.uniforms;
    gl.useProgram(prog.prog);
    gl.uniformMatrix4fv(u.u_viewProj, false, viewProj);
    gl.uniform1f(u.u_mix, mix);
    gl.uniform1f(u.u_focus, focus ? 1 : 0);
    gl.uniform1i(u.u_data, 0);
    return u;
  }

  render(frame) {
    const gl = this.gl;
    const { mix, toEye } = frame;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(...BACKGROUND, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    gl.disable(gl.BLEND);
    gl.depthMask(true);
    gl.bindVertexArray(this.emptyVao);

    // Feature maps: both faces of each plane are drawn, nearest plane first so the depth test
    // spares the fragment shader behind it; brightness follows how squarely planes face us.
    gl.disable(gl.CULL_FACE);
    let u = this.frameUniforms(this.mapProg, frame);
    const normal = [-(1 - mix), 0, mix];
    const facing = Math.abs(normal[0] * toEye[0] + normal[2] * toEye[2]) / (Math.hypot(normal[0], normal[2]) || 1);
    gl.uniform1f(u.u_lit, 0.72 + 0.28 * facing);
    gl.uniform3fv(u.u_gap, frame.focus ? BACKGROUND.map((c) => c * 0.6) : BACKGROUND);
    const overlaid = this.overlaid();
    gl.uniform1i(u.u_over, 1);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.overTex);
    const eye = frame.eye;
    const distance = (g) => Math.hypot(g.x3 + (g.xF - g.x3) * mix - eye[0], g.y3 + (g.yF - g.y3) * mix - eye[1], eye[2]);
    const maps = this.layers.filter((l) => l.geom.visible && !l.geom.box)
      .sort((a, b) => distance(a.geom) - distance(b.geom));
    for (const l of maps) {
      this.layerUniforms(u, l);
      gl.uniform1f(u.u_overlay, l === overlaid ? 1 : 0);
      gl.drawArraysInstanced(gl.TRIANGLE_STRIP, 0, 4, l.geom.C);
    }

    // Vector layers as boxes, and the focused unit's marker.
    gl.enable(gl.CULL_FACE);
    u = this.frameUniforms(this.boxProg, frame);
    gl.uniform3fv(u.u_toEye, toEye);
    gl.uniform1f(u.u_marker, 0);
    gl.uniform1i(u.u_first, 0);
    for (const l of this.layers) {
      if (!l.geom.visible || !l.geom.box) continue;
      this.layerUniforms(u, l);
      gl.uniform1i(u.u_count, l.geom.count);
      gl.uniform1f(u.u_size, l.geom.cell);
      gl.drawArraysInstanced(gl.TRIANGLES, 0, Math.min(CHUNK, l.geom.count) * 36, Math.ceil(l.geom.count / CHUNK));
    }
    const m = this.marker && this.layers[this.marker.group];
    if (m && m.geom.visible && !m.geom.box) {
      this.layerUniforms(u, m);
      gl.uniform1i(u.u_first, this.marker.index);
      gl.uniform1i(u.u_count, this.marker.index + 1);
      gl.uniform1f(u.u_size, 1.35);
      gl.uniform1f(u.u_marker, 1);
      gl.drawArraysInstanced(gl.TRIANGLES, 0, 36, 1);
    }

    if (this.lineCount) {
      // Lines are drawn over the planes, not depth-tested against them: a unit's connections
      // must reach its source patch even when that plane stands between it and the camera.
      gl.disable(gl.DEPTH_TEST);
      gl.useProgram(this.lineProg.prog);
      gl.uniformMatrix4fv(this.lineProg.uniforms.u_viewProj, false, frame.viewProj);
      gl.uniform1f(this.lineProg.uniforms.u_mix, mix);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE);
      gl.depthMask(false);
      gl.bindVertexArray(this.lineVao);
      gl.drawArrays(gl.LINES, 0, this.lineCount);
      gl.depthMask(true);
    }
    gl.bindVertexArray(null);
  }
}
