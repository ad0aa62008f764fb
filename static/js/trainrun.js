/* A training run as the page follows it: the run object (app/routers/runs.py) and what its event
   stream has said so far, folded one event at a time: progress points for the curves, the first
   conv layer's snapshots for the filters and the timeline, the per-epoch history. Pure data. */

import { decodeArray } from "./codec.js";

export const ENDS = ["done", "failed", "cancelled"];

/** Still to train (waiting in the queue or training now)? */
export const isActive = (run) => run.status === "queued" || run.status === "running";

/** A fresh record for `run`; its event stream starts from the beginning. */
export function newRecord(run) {
  return { run, progress: [], snapshots: [], epochs: [...(run.history || [])], last: null };
}

/** Fold one event (`name`, its JSON) into the record. */
export function fold(rec, name, data) {
  if (name === "progress") {
    // A point per step measured: the timer repeats the latest step while the run evaluates.
    const prev = rec.progress[rec.progress.length - 1];
    if (data.loss !== null && (!prev || prev.step !== data.step)) rec.progress.push(data);
    rec.last = data;
    if (rec.run.status === "queued") rec.run.status = "running";
  } else if (name === "snapshot") {
    const { values } = decodeArray(data);
    const snap = { step: data.step, epoch: data.epoch, layer: data.layer, shape: data.shape, values,
      valAccuracy: data.val_accuracy, valSize: data.val_size };
    const last = rec.snapshots[rec.snapshots.length - 1];
    if (last && last.step === snap.step) rec.snapshots[rec.snapshots.length - 1] = snap;
    else rec.snapshots.push(snap);
    if (rec.run.status === "queued") rec.run.status = "running";
  } else if (name === "epoch") {
    rec.epochs = rec.epochs.filter((e) => e.epoch !== data.epoch).concat([data]);
  } else if (ENDS.includes(name)) {
    rec.run = data;
    if (data.history) rec.epochs = [...data.history];
  }
}

/**
 * The curves against the step: mean training loss and batch accuracy between progress events,
 * and the validation-subset accuracy, measured at each snapshot and drawn straight between two
 * measurements (none yet after the last one).
 */
export function curves(rec) {
  const snaps = rec.snapshots;
  const x = [0];
  const loss = [null];
  const batch = [null];
  const val = [snaps.length && snaps[0].step === 0 ? snaps[0].valAccuracy : null];
  let k = 0;
  for (const p of rec.progress) {
    while (k + 1 < snaps.length && snaps[k + 1].step <= p.step) k++;
    const [a, b] = [snaps[k], snaps[k + 1]];
    x.push(p.step);
    loss.push(p.loss);
    batch.push(p.batch_accuracy);
    if (a && a.step === p.step) val.push(a.valAccuracy);
    else if (a && b && a.step < p.step) val.push(between(a, b, p.step));
    else val.push(null);
  }
  return { x, loss, batch, val };
}

/** Validation accuracy at `step` on the straight line between snapshots `a` and `b`. */
function between(a, b, step) {
  return a.valAccuracy + ((b.valAccuracy - a.valAccuracy) * (step - a.step)) / (b.step - a.step);
}
