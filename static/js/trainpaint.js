/* The Train view's painter: the settings form, the queue and progress line, live loss and
   accuracy curves against the step, the first conv layer's filters at the random start and now
   (Saito ch. 7.6, watched as they form), the run's own 3D view and answer for the drawing on the
   pad, the timeline over the snapshots and the list of runs. Only paints; train.js decides. */

import { lineChart } from "./chart.js";
import { LUT, lutIndex } from "./colormap.js";
import { el } from "./dom.js";
import { className, classTag, noun, plural } from "./datasets.js";
import { fmt, pct } from "./format.js";
import { InspectPanel } from "./inspect.js";
import { displayValues } from "./netmodel.js";
import { NetView } from "./netview.js";
import { Readout } from "./readout.js";
import { TrainFocus } from "./trainfocus.js";

const KERNEL_CSS = 22; // about this many CSS pixels per kernel side
const LOSS_COLOR = "#f89c3a";
const BATCH_COLOR = "#f89c3a";
const VAL_COLOR = "#5ab4f0";
const PHASES = { loading: "reading the training data", evaluating: "scoring the epoch", saving: "saving the network" };

const $ = (id) => document.getElementById(id);

/** "2 min 05 s", "42 s" */
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}

export class TrainPainter {
  /**
   * @param {{start, stop, pick, remove, use, seek, replay}} on what the user asked: start(config),
   *   stop(), pick(run id), remove(run id), use(model name), seek(snapshot index), replay()
   */
  constructor(on) {
    this.on = on;
    this.dom = Object.fromEntries(["train-form", "train-arch", "train-epochs", "train-optimizer",
      "train-lr", "train-size", "train-augment", "train-start", "train-stop", "train-state",
      "train-bar", "train-numbers", "train-loss", "train-acc", "train-start-filters",
      "train-now-filters", "train-change-filters", "train-now-caption", "train-stage", "train-net", "train-labels",
      "train-answer", "train-timeline", "train-replay", "train-time", "train-runs", "train-runs-note",
      "train-use", "train-watch", "train-augment-label", "train-augment-text", "train-readout", "train-inspect",
      "train-inspect-title", "train-inspect-body", "train-inspect-close"].map((id) => [id.slice(6), $(id)]));
    const d = this.dom;
    this.ready = false; // the form waits for GET /api/runs/options
    d.form.addEventListener("submit", (e) => {
      e.preventDefault();
      on.start(this.config());
    });
    d.arch.addEventListener("change", () => { d.arch.dataset.picked = "1"; });
    d.stop.addEventListener("click", () => on.stop());
    d.timeline.addEventListener("input", () => on.seek(Number(d.timeline.value)));
    d.replay.addEventListener("click", () => on.replay());
    d.use.addEventListener("click", () => on.use(d.use.dataset.model));
    this.view = new NetView({
      canvas: d.net, body: d.stage, labels: d.labels,
      onHover: (unit, e) => this.focus.hover(unit, e), onClick: (unit) => this.focus.select(unit),
      onError: (m) => this.placeholder(m),
    });
    const inspect = new InspectPanel({ panel: d.inspect, title: d["inspect-title"], body: d["inspect-body"],
      close: d["inspect-close"] }, () => this.focus.select(null));
    this.focus = new TrainFocus({ view: this.view, readout: new Readout(d.readout, d.stage), inspect });
    this.placeholder("Start a run, or pick one below, to see it read your drawing.");
  }

  // ----- the form -----------------------------------------------------------------------------

  /** Build the form from GET /api/runs/options: every architecture (those this server will not
      train disabled, with the reason), the optimizers, each field's default and limits; the
      architecture first offered is `preferred` (the shown network's). */
  setOptions(o, preferred) {
    const d = this.dom;
    const trainable = o.architectures.filter((a) => a.trainable);
    d.arch.replaceChildren(...o.architectures.map((a) => el("option",
      { value: a.arch, disabled: !a.trainable, title: a.reason || `${a.description} · ${a.param_count.toLocaleString("en")} parameters` },
      a.trainable ? a.arch : `${a.arch} (too large here)`)));
    const first = trainable.find((a) => a.arch === preferred) || trainable[0];
    if (first) d.arch.value = first.arch;
    d.optimizer.replaceChildren(...o.optimizers.map((opt) => el("option", { value: opt.name, title: opt.rule }, opt.label)));
    d.optimizer.value = o.defaults.optimizer;
    const bound = (input, limits, value) => {
      if (limits.min !== undefined) input.min = String(limits.min);
      else input.min = "0";
      input.max = String(limits.max);
      input.value = String(value);
    };
    bound(d.epochs, o.limits.epochs, o.defaults.epochs);
    bound(d.lr, o.limits.lr, o.defaults.lr);
    bound(d.size, o.limits.train_size, o.defaults.train_size);
    d.augment.checked = o.defaults.augment;
    d["augment-text"].textContent = `shift ${plural()} ±${o.augment.shift} px`;
    d["augment-label"].title = o.augment.description;
    this.ready = o.training && trainable.length > 0;
    this.setBusy(this.busy);
  }

  /** Offer the shown network's architecture when the user has not picked one yet. */
  prefer(arch) {
    const option = [...this.dom.arch.options].find((opt) => opt.value === arch && !opt.disabled);
    if (option && !this.dom.arch.dataset.picked) this.dom.arch.value = arch;
  }

  config() {
    const d = this.dom;
    return {
      arch: d.arch.value, epochs: Number(d.epochs.value), optimizer: d.optimizer.value,
      lr: Number(d.lr.value), train_size: Number(d.size.value), augment: d.augment.checked,
    };
  }

  /** Show the run's progress, curves, filters and view (a run is watched), or only the form. */
  watching(on) {
    this.dom.watch.hidden = !on;
  }

  /** Start while nothing of ours trains (and the form is built); Stop while the watched run is
      queued or running. */
  setBusy(active) {
    this.busy = Boolean(active);
    this.dom.start.disabled = this.busy || !this.ready;
    this.dom.stop.disabled = !this.busy;
  }

  // ----- progress -----------------------------------------------------------------------------

  /** One line of what the run is doing; `kind` "error" or "" colours it. */
  state(text, kind = "") {
    if (this.dom.state.textContent !== text) this.dom.state.textContent = text; // a live region: said once
    this.dom.state.dataset.kind = kind;
  }

  /** The progress bar and its numbers: {step, steps_total, epoch, epochs, loss, …} or null. */
  progress(run, last) {
    const p = run.progress || {};
    const total = (last && last.steps_total) || p.steps_total || 0;
    const step = run.status === "done" ? total : (last ? last.step : p.step || 0);
    this.dom.bar.max = Math.max(1, total);
    this.dom.bar.value = step;
    const epochs = run.config?.epochs ?? p.epochs;
    const parts = [`step ${step.toLocaleString("en")} of ${total.toLocaleString("en")}`,
      `epoch ${Math.max(1, (last && last.epoch) || p.epoch || 1)} of ${epochs}`];
    if (last && run.status === "running" && last.loss !== null) {
      parts.push(`loss ${fmt(last.loss)}`, `batch ${pct(last.batch_accuracy)} right`,
        `${Math.round(last.images_per_second).toLocaleString("en")} images/s`,
        `ETA ${duration(last.eta_seconds)}`);
    }
    if (last && run.status === "running" && PHASES[last.phase]) parts.push(PHASES[last.phase]);
    this.dom.numbers.textContent = parts.join(" · ");
  }

  // ----- curves ---------------------------------------------------------------------------------

  /** Loss and accuracy against the step (trainrun.curves) on an axis to the run's last step
      `total`, so the lines grow across; `at` marks the shown snapshot. */
  curves(c, at, total) {
    if (!this.dom.loss.clientWidth) return;
    const more = total > c.x[c.x.length - 1];
    const pad = (values) => (more ? [...values, null] : values);
    const x = pad(c.x);
    if (more) x[x.length - 1] = total;
    const markers = at != null ? [{ x: at, label: `step ${at}` }] : [];
    const xTicks = ticks(x[x.length - 1]);
    const losses = c.loss.filter((v) => v !== null);
    const lossMax = niceCeil(Math.max(...losses, 0.1));
    lineChart(this.dom.loss, {
      x, xTicks, series: [{ values: pad(c.loss), color: LOSS_COLOR }], yMin: 0, yMax: lossMax,
      yTicks: [0, lossMax / 2, lossMax], yFormat: fmt, markers,
    });
    lineChart(this.dom.acc, {
      x, xTicks, series: [{ values: pad(c.batch), color: BATCH_COLOR, width: 1.2 },
        { values: pad(c.val), color: VAL_COLOR, width: 2.2 }],
      yMin: 0, yMax: 1, yTicks: [0, 0.25, 0.5, 0.75, 1], yFormat: (v) => `${Math.round(v * 100)}%`, markers,
    });
    this.dom.loss.dataset.points = String(losses.length);
  }

  // ----- filters --------------------------------------------------------------------------------

  /** The first conv layer's filters at the start and at snapshot `snap` ({step, shape, values, …}). */
  filters(start, snap) {
    paintKernels(this.dom["start-filters"], start);
    paintKernels(this.dom["now-filters"], snap);
    paintKernels(this.dom["change-filters"], { shape: snap.shape, values: snap.values.map((v, i) => v - start.values[i]) });
    this.dom["now-filters"].dataset.step = String(snap.step);
    const acc = snap.valAccuracy != null ? `: ${pct(snap.valAccuracy)} of ${snap.valSize} validation ${plural()} right` : "";
    this.dom["now-caption"].textContent = `step ${snap.step}${acc}`;
  }

  clearFilters() {
    for (const key of ["start-filters", "now-filters", "change-filters"]) {
      const cv = this.dom[key];
      cv.getContext("2d").clearRect(0, 0, cv.width, cv.height);
      delete cv.dataset.step;
    }
    this.dom["now-caption"].textContent = "";
  }

  // ----- the run's 3D view and answer ----------------------------------------------------------

  /** A new architecture for the run's 3D view (display groups from netmodel.buildGroups). */
  setGroups(groups) {
    this.groups = groups;
    this.view.setGroups(groups, new Set());
    this.view.setLayout("3d");
    this.focus.setContext({ groups, display: [], layers: new Map(), probabilities: null, run: null, step: 0 });
  }

  /** Every unit of the run's view at zero (no drawing to read). */
  dark() {
    if (!this.groups) return;
    const display = displayValues(this.groups, new Map());
    this.view.setValues(display);
    this.focus.setContext({ ...this.focus.at, display, layers: new Map(), probabilities: null });
  }

  /** Shown when there is no answer to show (see panels.js). */
  placeholder(text) {
    this.dom.answer.replaceChildren(el("p", { className: "muted small" }, text));
    this.dom.answer.dataset.state = "empty";
    this.view.setPredicted(-1);
  }

  /** The answer at a snapshot: {label, probabilities, step} of run `run`; `layers` its decoded
      outputs by name, `display` per-group values. */
  answer(a, display, layers, run) {
    this.view.setValues(display);
    this.focus.setContext({ groups: this.groups, display, layers, probabilities: a.probabilities, run, step: a.step });
    this.view.setPredicted(a.label);
    const bars = a.probabilities.map((p, d) => el("span",
      { className: `mini-bar${d === a.label ? " win" : ""}`, title: `${className(d)}: ${pct(p)}` },
      el("b", {}, el("i", { style: { transform: `scaleY(${p})` } })), el("small", {}, classTag(d))));
    this.dom.answer.replaceChildren(
      el("div", { className: "train-verdict" },
        el("span", { className: `verdict-digit${className(a.label).length > 2 ? " word" : ""}`, id: "train-digit" }, className(a.label)),
        el("span", { className: "small" }, `${pct(a.probabilities[a.label])} sure`, el("br"),
          el("span", { className: "muted" }, `weights of step ${a.step}`))),
      el("div", { className: "mini-bars", "aria-label": `Probability of each ${noun()}` }, bars));
    this.dom.answer.dataset.state = "ok";
    this.dom.answer.dataset.step = String(a.step);
  }

  /** Redraw what follows the page's size. */
  resized() {
    this.view.resize();
  }

  // ----- timeline -------------------------------------------------------------------------------

  /** The slider over `count` snapshots at `index`; `playing` relabels the button. */
  timeline(count, index, step, playing) {
    const t = this.dom.timeline;
    t.max = String(Math.max(0, count - 1));
    t.value = String(index);
    t.disabled = count < 2;
    t.setAttribute("aria-valuetext", `step ${step}`);
    this.dom.replay.disabled = count < 2;
    this.dom.replay.textContent = playing ? "Pause" : "Replay";
    this.dom.time.textContent = count ? `snapshot ${index + 1} of ${count} · step ${step}` : "";
  }

  /** Offer to open the finished run's model in the page, or hide the offer. */
  offerModel(name) {
    this.dom.use.hidden = !name;
    this.dom.use.dataset.model = name || "";
  }

  // ----- the list of runs ---------------------------------------------------------------------

  /** Every run (newest first); `current` is the watched one's id. */
  runs(runs, current) {
    // Rebuilt only when something listed changed, so a focused or hovered row stays put.
    const key = JSON.stringify([current, runs.map((r) => [r.id, r.status, r.position])]);
    if (key === this.runsKey) return;
    this.runsKey = key;
    this.dom["runs-note"].textContent = runs.length ? "" : "No runs yet: your runs stay here across reloads.";
    this.dom.runs.replaceChildren(...runs.map((r) => {
      const c = r.config || {};
      const acc = r.result && r.result.test_accuracy != null ? `${pct(r.result.test_accuracy)} test` : "";
      const where = r.status === "queued" ? `queued · ${r.position === 0 ? "next" : `${r.position} ahead`}` : r.status;
      const active = r.status === "queued" || r.status === "running";
      return el("li", { className: `run-row${r.id === current ? " current" : ""}`, dataset: { id: r.id, status: r.status } },
        el("button", { type: "button", className: "run-pick", title: "Watch this run", onclick: () => this.on.pick(r.id) },
          el("span", { className: `run-status ${r.status}` }, where),
          el("span", { className: "run-arch" }, c.arch),
          el("span", { className: "muted small" },
            `${c.epochs} epoch${c.epochs === 1 ? "" : "s"} · ${c.optimizer} ${c.lr} · ` +
            `${Number(c.train_size).toLocaleString("en")} images${c.augment ? " · shifted" : ""}`),
          el("span", { className: "run-acc" }, acc),
          el("span", { className: "muted small" }, new Date(r.created).toLocaleString())),
        el("button", {
          type: "button", className: "icon-btn", onclick: () => this.on.remove(r.id),
          "aria-label": active ? "Stop this run" : "Delete this run and its model",
          title: active ? "Stop" : "Delete (and its model)",
        }, "×"));
    }));
  }
}

/** Kernels (channel 0 of [F, C, KH, KW]) in a grid on one canvas at data resolution, a dark gap
    between them, each scaled to its own largest weight (as filters.js does). */
function paintKernels(canvas, snap) {
  const [F, C, KH, KW] = snap.shape;
  const cols = Math.min(F, Math.ceil(Math.sqrt(F * 1.6)));
  const rows = Math.ceil(F / cols);
  const W = cols * (KW + 1) - 1;
  const H = rows * (KH + 1) - 1;
  if (canvas.width !== W) canvas.width = W;
  if (canvas.height !== H) canvas.height = H;
  const zoom = Math.max(2, Math.floor(KERNEL_CSS / Math.max(KH, KW)));
  canvas.style.width = `${W * zoom}px`;
  canvas.style.maxWidth = "100%";
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(W, H);
  const px = img.data;
  for (let f = 0; f < F; f++) {
    const base = f * C * KH * KW;
    let own = 0;
    for (let k = 0; k < KH * KW; k++) own = Math.max(own, Math.abs(snap.values[base + k]));
    const ox = (f % cols) * (KW + 1);
    const oy = Math.floor(f / cols) * (KH + 1);
    for (let y = 0; y < KH; y++) {
      for (let x = 0; x < KW; x++) {
        const i = lutIndex(own > 0 ? snap.values[base + y * KW + x] / own : 0) * 4;
        const o = ((oy + y) * W + ox + x) * 4;
        px[o] = LUT[i];
        px[o + 1] = LUT[i + 1];
        px[o + 2] = LUT[i + 2];
        px[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** About five round step ticks from 0 to `last`. */
function ticks(last) {
  if (!last) return [0];
  const raw = last / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let t = 0; t <= last; t += step) out.push(t);
  return out;
}

function niceCeil(v) {
  const mag = 10 ** Math.floor(Math.log10(v));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * mag).find((m) => m >= v);
}
