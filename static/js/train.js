/* Watch it learn (issue 15): the Train view starts a run on the server (POST /api/runs), follows
   its event stream (progress, first-layer snapshots, epochs, the end), asks the run's weights at
   the shown snapshot about the drawing on the pad, replays the snapshots once it has ended, and
   hands the finished model to the network picker. Runs are listed by GET /api/runs. */

import * as api from "./api.js";
import { answerLayers } from "./derive.js";
import { scrollToSight } from "./dom.js";
import { pct } from "./format.js";
import { addToPicker, dropFromPicker } from "./models.js";
import { buildGroups, displayValues } from "./netmodel.js";
import { state } from "./state.js";
import { TrainPainter } from "./trainpaint.js";
import { curves, fold, isActive, newRecord } from "./trainrun.js";

const REPLAY_MS = 140; // one snapshot per frame of the replay
const QUEUE_POLL_MS = 1000; // how often a queued run's position is asked
const EVENTS = ["progress", "snapshot", "epoch", "done", "failed", "cancelled"];

// ----- what the view shows ----------------------------------------------------------------------

/** The shown snapshot's index: the chosen one, or the newest while following the run. */
function shownIndex(s) {
  const n = s.rec ? s.rec.snapshots.length : 0;
  return s.index === null ? n - 1 : Math.min(s.index, n - 1);
}

/** A run's dataset as the page names it ("Fashion-MNIST"); runs from before datasets: MNIST's. */
function titleOf(name) {
  return state.datasets.get(name || "mnist")?.title || name || "";
}

function statusText(run, rec) {
  const c = run.config || {};
  switch (run.status) {
    case "queued":
      return run.position
        ? `Waiting in the queue: ${run.position} run${run.position === 1 ? "" : "s"} ahead.`
        : "Waiting in the queue: next to start.";
    case "running":
      return `Training ${c.arch} on ${Number(c.train_size).toLocaleString("en")} ${titleOf(c.dataset)} images…`;
    case "done": {
      const r = run.result || {};
      const items = state.datasets.get(c.dataset)?.plural || "images";
      return `Done: ${pct(r.val_accuracy)} of the validation ${items} and ${pct(r.test_accuracy)} of the ` +
        `10,000 test ${items} right. It is now the network ${run.model} in the ${titleOf(c.dataset)} picker.`;
    }
    case "failed":
      return `Failed: ${run.error || "no reason given"}`;
    case "cancelled":
      return `Stopped at step ${rec.last ? rec.last.step : run.progress?.step || 0}.`;
    default:
      return run.status;
  }
}

function paint(ctx) {
  const s = ctx.settings;
  const p = ctx.painter;
  p.runs(s.runs, s.rec && s.rec.run.id);
  p.watching(Boolean(s.rec));
  if (!s.rec) {
    p.setBusy(false);
    return;
  }
  const { run } = s.rec;
  p.setBusy(isActive(run));
  p.state(statusText(run, s.rec), run.status === "failed" ? "error" : "");
  p.progress(run, s.rec.last);
  const snaps = s.rec.snapshots;
  const idx = shownIndex(s);
  if (idx >= 0) p.filters(snaps[0], snaps[idx]);
  else p.clearFilters();
  const total = (s.rec.last && s.rec.last.steps_total) || run.progress?.steps_total || 0;
  p.curves(curves(s.rec), s.index === null || idx < 0 ? null : snaps[idx].step, total);
  p.timeline(snaps.length, Math.max(0, idx), idx >= 0 ? snaps[idx].step : 0, Boolean(s.play));
  p.offerModel(run.status === "done" ? run.model : null);
  ctx.refresh();
}

/** Repaint once per frame however many events arrive (a late subscriber gets a burst). */
function schedule(ctx) {
  const s = ctx.settings;
  if (s.frame) return;
  s.frame = requestAnimationFrame(() => {
    s.frame = 0;
    paint(ctx);
  });
}

// ----- following a run ------------------------------------------------------------------------

function stopFollowing(s) {
  if (s.close) s.close();
  s.close = null;
  clearTimeout(s.poll);
  clearTimeout(s.play);
  s.play = null;
}

/** The run's 3D view, from the layers the run object carries (as /api/models has them). */
function viewFor(ctx, run) {
  const s = ctx.settings;
  s.groups = run.layers?.length ? buildGroups(run, true) : [];
  if (s.groups.length) ctx.painter.setGroups(s.groups);
  else ctx.painter.placeholder(`The server did not say how ${run.config?.arch} is built.`);
}

function watch(ctx, run) {
  const s = ctx.settings;
  stopFollowing(s);
  s.rec = newRecord(run);
  s.index = null;
  ctx.painter.placeholder(isActive(run)
    ? "The drawing is read at each snapshot once training starts." : "Reading the drawing…");
  viewFor(ctx, run);
  const on = Object.fromEntries(EVENTS.map((name) => [name, (data) => {
    if (!s.rec || s.rec.run.id !== run.id) return;
    fold(s.rec, name, data);
    if (name === "done" || name === "failed" || name === "cancelled") ended(ctx, s.rec.run);
    schedule(ctx);
  }]));
  s.close = api.runEvents(run.id, on, (message) => {
    if (s.rec && s.rec.run.id === run.id) ctx.painter.state(`Lost the run: ${message}.`, "error");
  });
  if (run.status === "queued") pollQueue(ctx, run.id);
  paint(ctx);
}

/** While the run waits, ask for its place in the queue (its stream starts with training). */
function pollQueue(ctx, id) {
  const s = ctx.settings;
  s.poll = setTimeout(async () => {
    if (!s.rec || s.rec.run.id !== id || s.rec.run.status !== "queued") return;
    try {
      const run = await api.getRun(id);
      if (!s.rec || s.rec.run.id !== id || s.rec.run.status !== "queued") return;
      s.rec.run = run;
      schedule(ctx);
    } catch (err) {
      ctx.painter.state(`Cannot ask about the queue: ${err.message}`, "error");
    }
    pollQueue(ctx, id);
  }, QUEUE_POLL_MS);
}

/** The run ended: refresh the list; a finished model joins the network picker. */
async function ended(ctx, run) {
  await loadRuns(ctx);
  if (run.status !== "done") return;
  try {
    const { models } = await api.getModels();
    addToPicker(models);
    ctx.hooks.modelsChanged(); // every network's answer includes it now
  } catch (err) {
    ctx.painter.state(`The run finished, but the list of networks could not be read: ${err.message}`, "error");
  }
}

async function loadRuns(ctx, first = false) {
  const s = ctx.settings;
  try {
    s.runs = (await api.listRuns()).runs;
  } catch (err) {
    ctx.painter.state(`Cannot list the training runs: ${err.message}`, "error");
    return;
  }
  if (first && !s.rec && s.runs.length) {
    // After a reload: the run still training (or waiting), else the newest.
    watch(ctx, s.runs.find(isActive) || s.runs[0]);
  }
  schedule(ctx);
}

/** The form: every architecture, the optimizers, defaults and limits, from the server. */
async function loadOptions(ctx) {
  try {
    const options = await api.runOptions();
    ctx.painter.setOptions(options, ctx.page.models.get(ctx.page.modelName)?.arch);
    if (!options.training) ctx.painter.state("This server trains no networks (CNNVIS_MAX_RUNS=0).");
  } catch (err) {
    ctx.painter.state(`Cannot read what training allows: ${err.message}`, "error");
  }
}

// ----- what the user asks ---------------------------------------------------------------------

async function start(ctx, config) {
  const p = ctx.painter;
  p.setBusy(true);
  p.state("Asking the server to train…");
  try {
    const run = await api.startRun(config);
    watch(ctx, run);
    loadRuns(ctx);
  } catch (err) {
    p.setBusy(false);
    p.state(err.status === 503 ? `The training queue is full: ${err.message}` : `Cannot start: ${err.message}`, "error");
  }
}

async function remove(ctx, id) {
  const s = ctx.settings;
  const run = s.runs.find((r) => r.id === id) || (s.rec && s.rec.run.id === id ? s.rec.run : null);
  const finished = run && !isActive(run);
  if (finished && !window.confirm(`Delete this run${run.model ? ` and the network ${run.model}` : ""}?`)) return;
  try {
    await api.deleteRun(id);
  } catch (err) {
    ctx.painter.state(`Cannot ${finished ? "delete" : "stop"} the run: ${err.message}`, "error");
    return;
  }
  if (finished) {
    if (s.rec && s.rec.run.id === id) {
      stopFollowing(s);
      s.rec = null;
      ctx.painter.placeholder("Start a run, or pick one below, to see it read your drawing.");
      ctx.painter.state("");
    }
    if (run.model) {
      dropFromPicker(run.model); // after forgetting the run: the page asks again
      ctx.hooks.modelsChanged();
    }
  }
  loadRuns(ctx);
}

function seek(ctx, index) {
  const s = ctx.settings;
  clearTimeout(s.play);
  s.play = null;
  s.index = index >= s.rec.snapshots.length - 1 && isActive(s.rec.run) ? null : index;
  paint(ctx);
}

function replay(ctx) {
  const s = ctx.settings;
  if (s.play) {
    clearTimeout(s.play);
    s.play = null;
    paint(ctx);
    return;
  }
  const n = s.rec.snapshots.length;
  let i = shownIndex(s) >= n - 1 ? 0 : shownIndex(s);
  const next = () => {
    s.index = i;
    s.play = i < n - 1 ? setTimeout(next, REPLAY_MS) : null;
    i += 1;
    paint(ctx);
  };
  next();
}

/** Open a finished run's model in the whole page (the picker does the switching). */
function use(name) {
  const select = document.getElementById("model-select");
  select.value = name;
  select.dispatchEvent(new Event("change"));
  scrollToSight(select);
}

// ----- the panel --------------------------------------------------------------------------------

export const trainView = {
  id: "train",
  /** The run's answer follows the drawing; which run and step are its settings. */
  follows: ["source"],
  settings: () => ({ runs: [], rec: null, index: null, groups: [], close: null, poll: 0, play: null, frame: 0 }),

  create(ctx) {
    const painter = new TrainPainter({
      // a run trains on the dataset the page shows
      start: (config) => start(ctx, { ...config, dataset: ctx.page.datasetName }),
      stop: () => ctx.settings.rec && remove(ctx, ctx.settings.rec.run.id),
      pick: (id) => {
        const run = ctx.settings.runs.find((r) => r.id === id);
        if (run && (!ctx.settings.rec || ctx.settings.rec.run.id !== id)) watch(ctx, run);
      },
      remove: (id) => remove(ctx, id),
      use,
      seek: (index) => seek(ctx, index),
      replay: () => replay(ctx),
    });
    document.getElementById("train-link").addEventListener("click", () => document.getElementById("tab-train").click());
    loadOptions(ctx); // both answer after create() returns, when ctx.painter is set
    loadRuns(ctx, true);
    return painter;
  },

  /** Offer the shown network's architecture first (until the user picks one). */
  modelChanged(ctx) {
    const arch = ctx.page.models.get(ctx.page.modelName)?.arch;
    if (arch) ctx.painter.prefer(arch);
  },

  /** The pad was emptied: the run's view goes dark (teach.js then shows a placeholder). */
  cleared(ctx) {
    ctx.painter.dark();
  },

  shown(ctx) {
    ctx.painter.resized();
    schedule(ctx);
  },

  request(ctx) {
    const s = ctx.settings;
    const idx = shownIndex(s);
    if (!s.rec || idx < 0 || !s.groups.length) return {};
    return { run: s.rec.run.id, step: s.rec.snapshots[idx].step };
  },

  ask: (ctx, req) => (req.options.run ? api.runActivations(req.options.run, req.options.step, req.source) : null),

  apply(ctx, answer, req) {
    if (!answer) return;
    const layers = answerLayers(answer, ctx.settings.rec?.run);
    ctx.painter.answer(answer, displayValues(ctx.settings.groups, layers), layers, req.options.run);
  },
};
