/* Shareable state (after the TensorFlow Playground's URL): the drawing's strokes (strokecodec.js)
   or the test sample it came from (named with its dataset: sample=fashion-mnist_3930), the
   model, layout, camera, unit in focus, open explain tab and colour scale, as query parameters;
   a link opened later reproduces the same 28×28 input and so the same prediction. Anything
   unreadable is skipped with a short notice, never an error. */

import { currentDataset } from "./datasets.js";
import { decodeStrokes, encodeStrokes } from "./strokecodec.js";
import { SCALES } from "./scales.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
/** The query parameters this module owns (model is the picker's, models.js). */
const KEYS = ["ink", "sample", "layout", "cam", "unit", "tab", "scale"];
const CAM_LIMIT = 1e5;

const round = (v, d) => Number(v.toFixed(d));

/** A link's sample reference, "fashion-mnist_3930" (a bare "3930", from links made before there
    were datasets: MNIST's), as {dataset, index}; null if unreadable. */
function sampleRef(text) {
  const m = /^(?:([a-z0-9-]{1,40})_)?(\d{1,9})$/.exec(text);
  return m ? { dataset: m[1] || "mnist", index: Number(m[2]) } : null;
}

export class Share {
  /**
   * @param {{pad, view, models, focus, teach, scales}} parts the pad (pad.js), the 3D view, model
   *   switching (models.js), focus (focus.js), the explain-and-teach section, the colour scales
   */
  constructor(parts) {
    Object.assign(this, parts);
    $("share").addEventListener("click", () => this.share());
    $("share-close").addEventListener("click", () => { $("share-box").hidden = true; });
    $("share-url").addEventListener("focus", (e) => e.target.select());
  }

  /** The link to what the page shows now, and a note on what it leaves out ("" if nothing). */
  link() {
    const url = new URL(window.location.href);
    for (const k of [...KEYS, "model"]) url.searchParams.delete(k);
    url.hash = "";
    const notes = [];
    url.searchParams.set("model", state.modelName);
    const ref = this.pad.pad.baseRef;
    if (ref && ref.sample !== undefined) url.searchParams.set("sample", `${ref.dataset}_${ref.sample}`);
    else if (ref && ref.upload) notes.push(`the uploaded image (${ref.upload}) stays on this computer`);
    else if (ref) notes.push(`the loaded ${currentDataset().noun} is not part of the link`);
    const strokes = this.pad.strokes();
    if (strokes.length) url.searchParams.set("ink", encodeStrokes(strokes));
    if (state.view.layout !== "3d") url.searchParams.set("layout", state.view.layout);
    const pose = this.view.pose();
    if (pose && !this.view.framed) {
      url.searchParams.set("cam", [round(pose.yaw, 3), round(pose.pitch, 3), round(pose.dist, 1),
        ...pose.target.map((v) => round(v, 1))].join("_"));
    }
    const unit = state.selected && state.groups[state.selected.group];
    if (unit) url.searchParams.set("unit", `${unit.head.name}_${state.selected.index}`);
    if (state.teach.tab) url.searchParams.set("tab", state.teach.tab);
    if (state.view.scale && state.view.scale !== SCALES[0].id) url.searchParams.set("scale", state.view.scale);
    return { url: url.toString(), note: notes.join("; ") };
  }

  async share() {
    const { url, note } = this.link();
    const box = $("share-box");
    box.hidden = false;
    $("share-url").value = url;
    // Without clipboard permission the box lets the reader copy the link by hand.
    // (No clipboard at all on a plain-http address other than localhost.)
    const copied = navigator.clipboard
      ? await navigator.clipboard.writeText(url).then(() => true, () => false) : false;
    $("share-state").textContent = (copied ? "Link copied." : "Copy this link:") +
      ` ${url.length} characters.` + (note ? ` Not included: ${note}.` : "");
  }

  /** A short notice for what a link could not restore. */
  notice(parts) {
    const el = $("share-notice");
    el.hidden = parts.length === 0;
    el.textContent = parts.length ? `Part of the link could not be used (${parts.join("; ")}); the rest is shown.` : "";
  }

  /** The dataset the link's sample comes from (the page opens one of its networks when the link
      names none it has), or null. */
  linkedDataset() {
    const text = new URL(window.location.href).searchParams.get("sample");
    return text === null ? null : sampleRef(text)?.dataset ?? null;
  }

  /**
   * Restore what the page's link describes (after the models and samples are loaded). Returns
   * true when it put a drawing on the pad.
   */
  restore() {
    const params = new URL(window.location.href).searchParams;
    const bad = [];
    const wanted = params.get("model");
    if (wanted && wanted !== state.modelName) bad.push(`there is no network called “${wanted.slice(0, 40)}”`);
    if (!KEYS.some((k) => params.has(k))) {
      this.notice(bad);
      return false;
    }
    const scale = params.get("scale");
    if (scale !== null) {
      if (SCALES.some((s) => s.id === scale)) this.scales.pick(scale);
      else bad.push("unknown colour scale");
    }
    const layout = params.get("layout");
    if (layout !== null) {
      if (layout === "flat" || layout === "3d") this.models.setLayout(layout);
      else bad.push("unknown layout");
    }
    let drew = false;
    let base = null;
    if (params.has("sample")) {
      const ref = sampleRef(params.get("sample"));
      const shown = currentDataset();
      const title = state.datasets.get(ref?.dataset)?.title;
      if (!ref) bad.push("the sample is unreadable");
      else if (!title) bad.push(`this server has no dataset “${ref.dataset}”`);
      else if (ref.dataset !== shown.name) bad.push(`the sample is a ${title} image and ${state.modelName} reads ${shown.title}`);
      else base = state.samples.find((s) => s.index === ref.index);
      if (ref && title && ref.dataset === shown.name && !base) bad.push(`the ${title} sample is not among this server's samples`);
    }
    if (params.has("ink")) {
      try {
        this.pad.loadStrokes(decodeStrokes(params.get("ink")), base);
        drew = true;
      } catch {
        bad.push("the drawing is damaged");
      }
    }
    if (!drew && base) {
      this.pad.loadSample(base);
      drew = true;
    }
    const cam = params.get("cam");
    if (cam !== null) {
      const v = cam.split("_").map(Number);
      if (v.length === 6 && v.every((x) => Number.isFinite(x) && Math.abs(x) < CAM_LIMIT) && v[2] > 0) {
        this.view.showPose({ yaw: v[0], pitch: v[1], dist: v[2], target: v.slice(3) });
      } else {
        bad.push("the camera is unreadable");
      }
    }
    const unit = params.get("unit");
    if (unit !== null) {
      const m = /^(.+)_(\d+)$/.exec(unit);
      const gi = m ? state.groups.findIndex((g) => g.members.includes(m[1])) : -1;
      const index = m ? Number(m[2]) : -1;
      if (gi >= 0 && index < state.groups[gi].count) this.focus.select({ group: gi, index });
      else bad.push("no such unit in this network");
    }
    const tab = params.get("tab");
    if (tab !== null) {
      if (document.getElementById(`tab-${tab}`)?.getAttribute("role") === "tab") this.teach.setTab(tab);
      else bad.push("unknown view");
    }
    this.notice(bad);
    return drew;
  }
}
