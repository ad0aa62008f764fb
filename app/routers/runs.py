"""Training runs (issue 15): start a run, list and read runs, follow one as Server-Sent Events,
cancel or delete it, and ask for a drawing's activations under the weights of any kept snapshot.

The run object (``POST /api/runs`` → 202, ``GET /api/runs/{id}``, each item of ``GET /api/runs``
→ ``{"runs": [...]}`` newest first)::

    {"id": "3f9c2a7b1d04",                      # 12 hex digits
     "status": "queued",                        # queued | running | done | failed | cancelled
     "position": 0,                             # queued: 0 = next to start; else null
     "config": {"arch": "simple_convnet", "epochs": 1, "batch_size": 100, "optimizer": "adam",
                "lr": 0.001, "train_size": 55000, "augment": false, "seed": 0},
     "created": "2026-11-30T06:40:00.123Z",     # ISO 8601 UTC; started/finished null until then
     "started": null, "finished": null,
     "progress": {"step": 0, "steps_total": 550, "epoch": 0, "epochs": 1},
     "history": [],                             # one row per finished epoch, as in `epoch` below
     "result": null,                            # done: {"val_accuracy": 0.98, "test_accuracy": 0.98}
     "model": null,                             # done: "run-3f9c2a7b1d04", usable as `model`
     "error": null,                             # failed: the reason, one sentence
     "snapshots": [0, 41, 83]}                  # steps whose weights are kept (for /activations)

``augment: true`` trains with random shifts of ±2 pixels (``cnnvis train --shift 2``).

``GET /api/runs/{id}/events`` (``text/event-stream``): every event is ``id: <n>`` (1, 2, 3, … per
run), ``event: <name>`` and one ``data:`` line of JSON. A client reconnecting with the
``Last-Event-ID`` header gets every event after that id; a new subscriber gets the whole history
first, then live events. Lines starting with ``:`` are keep-alive comments. Events::

    progress  (≤ 250 ms apart while running)
      {"step": 120, "steps_total": 550, "epoch": 1, "loss": 0.412, "batch_accuracy": 0.88,
       "images_per_second": 15023.5, "eta_seconds": 3.1}
      # step counts from 1 over the whole run; loss and batch_accuracy: mean over the batches
      # since the previous progress event
    snapshot  (at least twice a second while running; step 0 is the random start)
      {"step": 120, "epoch": 1, "layer": "conv1", "shape": [30, 1, 5, 5], "min": -0.41,
       "max": 0.39, "encoding": "float16", "data": "<base64>", "val_accuracy": 0.912,
       "val_size": 500}
      # the first conv layer's weights (float16 as in /api/models/{name}/params); val_accuracy on
      # a fixed validation subset of val_size images
    epoch     (after each epoch: the history row)
      {"epoch": 1, "lr": 0.001, "loss": 0.31, "train_accuracy": 0.95, "val_accuracy": 0.94,
       "val_loss": 0.2, "test_accuracy": 0.94, "test_loss": 0.2, "seconds": 3.9}
    done | failed | cancelled  (exactly one, last; then the stream ends)
      the final run object, as above (failed: with "error")

``DELETE /api/runs/{id}`` → 200 with the run: a queued or running run becomes ``cancelled`` (its
process stops within a second); a finished one is deleted with its model (then 404 everywhere).

``POST /api/runs/{id}/activations``: the usual drawing body (``image`` or ``pixels``) plus
``"step"``: the answer of ``/api/activations`` plus ``"step"``, computed under the weights of the
latest kept snapshot at or before that step (``snapshots`` lists them; at most
``CNNVIS_RUN_SNAPSHOTS`` per run, float16).
"""
