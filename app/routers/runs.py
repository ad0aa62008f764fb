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
     "result": null,    # done: {"val_accuracy": 0.98, "test_accuracy": 0.98, "selected_epoch": 1}
     "model": null,                             # done: "run-3f9c2a7b1d04", usable as `model`
     "error": null,                             # failed: the reason, one sentence
     "snapshots": [0, 41, 83]}                  # steps whose weights are kept (for /activations)

``augment: true`` trains with random shifts of ±2 pixels (``cnnvis train --shift 2``). The run
also carries its network's ``input_shape`` and ``layers`` (as ``/api/models`` has them).

``GET /api/runs/options``: what a run may ask for, from the registry, ``TrainConfig`` and this
server's settings (the page's Train form is built from it)::

    {"training": true,                          # false: CNNVIS_MAX_RUNS=0
     "defaults": {"epochs": 1, "batch_size": 100, "optimizer": "adam", "lr": 0.001,
                  "train_size": 55000, "augment": false, "seed": 0},
     "limits": {"epochs": {"min": 1, "max": 20}, "batch_size": {"min": 1, "max": 1000},
                "lr": {"above": 0.0, "max": 1.0}, "train_size": {"min": 1, "max": 55000},
                "seed": {"min": 0, "max": 4294967295}, "param_count": {"max": 1000000}},
     "optimizers": [{"name": "sgd", "label": "SGD", "rule": "p ← p − lr·g"}, …],
     "augment": {"shift": 2, "description": "…"},
     "events": {"progress_seconds": 0.1, "snapshot_seconds": 0.4, "val_subset": 100,
                "snapshots_kept": 50},
     "architectures": [{"arch": "simple_convnet", "description": "…", "param_count": 433890,
                        "trainable": true, "reason": null, "input_shape": [1, 28, 28],
                        "layers": [...]}, …]}

``GET /api/runs/{id}/events`` (``text/event-stream``): every event is ``id: <n>`` (1, 2, 3, … per
run), ``event: <name>`` and one ``data:`` line of JSON. A client reconnecting with the
``Last-Event-ID`` header gets every event after that id; a new subscriber gets the whole history
first, then live events. Lines starting with ``:`` are keep-alive comments. A stream lasts about
``STREAM_SECONDS`` (15 s, so that no stream holds up a server that is stopping; it ends just after
passing on an event, at most 16 s): if it ends without a final event, reconnect with
``Last-Event-ID`` (``EventSource`` does so by itself, after the ``retry: 100`` milliseconds the
stream starts with). Events::

    progress  (every CNNVIS_RUN_PROGRESS_SECONDS, 0.1 s, from the start of the run to its end,
               also while it loads the data, evaluates an epoch or saves)
      {"step": 120, "steps_total": 550, "epoch": 1, "phase": "training", "loss": 0.412,
       "batch_accuracy": 0.88, "images_per_second": 15023.5, "eta_seconds": 3.1,
       "time": 1764484800.123, "sent": 1764484800.171}
      # step counts from 1 over the whole run (0: not started); phase: loading | training |
      # evaluating | saving; loss and batch_accuracy: mean over the batches since the previous
      # event that had any (null before the first step); eta_seconds null before the first step;
      # time: when that step ended, sent: when the event was made (Unix seconds)
    snapshot  (every CNNVIS_RUN_SNAPSHOT_SECONDS, 0.4 s, while the weights change, spaced out
               on slow networks so they cost ≤ 4 % of the training; step 0 is the random
               start, the last step always has one)
      {"step": 120, "epoch": 1, "layer": "conv1", "shape": [30, 1, 5, 5], "min": -0.41,
       "max": 0.39, "encoding": "float16", "data": "<base64>", "val_accuracy": 0.912,
       "val_size": 100}
      # the first conv layer's weights (float16 as in /api/models/{name}/params); val_accuracy on
      # a fixed validation subset of val_size images
    epoch     (after each epoch: the history row)
      {"epoch": 1, "lr": 0.001, "loss": 0.31, "train_accuracy": 0.95, "val_accuracy": 0.94,
       "val_loss": 0.2, "test_accuracy": 0.94, "test_loss": 0.2, "seconds": 3.9}
    done | failed | cancelled  (exactly one, last; then the stream ends)
      the final run object, as above (failed: with "error")

``DELETE /api/runs/{id}`` → 200 with the run: a queued or running run becomes ``cancelled`` (its
process stops within a second); a finished one is deleted with its model (then 404 everywhere).

``GET /api/runs/{id}/params/{param}?step=N``: one parameter (``conv1.weight``, …) as
``/api/models/{name}/params/{param}`` answers it, plus ``"step"``, under the weights of the latest
kept snapshot at or before ``N`` (the Train view's hover connections and unit panel use it).

``POST /api/runs/{id}/activations``: the usual drawing body (``image`` or ``pixels``) plus
``"step"``: the answer of ``/api/activations`` plus ``"step"``, computed under the weights of the
latest kept snapshot at or before that step (``snapshots`` lists them; at most
``CNNVIS_RUN_SNAPSHOTS`` per run, float16).

Errors: 422 for an unknown ``arch`` or a value beyond the server's limits, 404 for an unknown
run (or a step before the first snapshot), 429 when this client already has
``CNNVIS_MAX_RUNS_PER_CLIENT`` runs queued or running, 503 + ``Retry-After`` when the queue is
full (``CNNVIS_MAX_RUNS`` running and ``CNNVIS_MAX_QUEUED_RUNS`` waiting), 403 when training
is off (``CNNVIS_MAX_RUNS=0``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse

from .. import examples, service
from ..runs.service import Runs, TrainingOff
from ..runs.store import FINAL, QueueFull, Store
from ..schemas import (
    Run,
    RunActivationsRequest,
    RunActivationsResponse,
    RunList,
    RunOptions,
    RunParamResponse,
    RunRequest,
    error_responses,
)
from .deps import JsonBody, SettingsDep

router = APIRouter(prefix="/api/runs", tags=["runs"])

POLL_SECONDS = 0.05  # how often a stream looks for new events (one indexed query)
KEEPALIVE_SECONDS = 10.0
STREAM_SECONDS = 15.0  # then the client reconnects (Last-Event-ID): no stream blocks a shutdown
LINGER_SECONDS = 1.0  # past STREAM_SECONDS, how long a stream waits for events to end after
RETRY_MS = 100  # the client's wait before it reconnects: shorter than one progress gap
RunId = Annotated[str, Path(min_length=1, max_length=40, description="a run's id")]


async def get_runs(request: Request) -> Runs:
    runs = getattr(request.app.state, "runs", None)
    if runs is None:
        raise HTTPException(503, "the server is starting; retry in a moment",
                            headers={"Retry-After": "1"})
    return runs


RunsDep = Annotated[Runs, Depends(get_runs)]
NewRun = Annotated[RunRequest, Body(openapi_examples=examples.RUN)]
RunDrawing = Annotated[RunActivationsRequest, Body(openapi_examples=examples.RUN_DRAWING)]


@router.post("", status_code=202, response_model=Run, dependencies=[JsonBody],
             responses=error_responses(400, 403, 413, 415, 422, 429, 503),
             summary="Start training a network (queued; follow it with /events)")
def create_run(body: NewRun, request: Request, runs: RunsDep) -> dict:
    client = request.client.host if request.client else "unknown"
    try:
        return runs.create(body.model_dump(), client)
    except QueueFull as full:
        raise HTTPException(429 if full.per_client else 503, str(full),
                            headers={"Retry-After": str(full.retry_after)}) from None
    except TrainingOff as off:
        raise HTTPException(403, str(off)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("", response_model=RunList, responses=error_responses(503),
            summary="Every run, newest first")
def list_runs(runs: RunsDep) -> dict:
    return {"runs": runs.list()}


@router.get("/options", response_model=RunOptions, responses=error_responses(503),
            summary="What a run may ask for: every architecture, defaults, limits, optimizers")
def run_options(runs: RunsDep) -> dict:
    return runs.options()


# Registered before ``/{run_id}`` so that DELETE /api/runs/options is this path's 405 (Allow: GET),
# not a delete of a run named "options".
@router.api_route("/options", methods=["POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS",
                                       "TRACE"], include_in_schema=False)
def run_options_not_allowed() -> None:
    raise HTTPException(405, headers={"Allow": "GET"})


@router.get("/{run_id}", response_model=Run, responses=error_responses(404, 422, 503),
            summary="One run: status, progress, history, result")
def get_run(run_id: RunId, runs: RunsDep) -> dict:
    return runs.get(run_id)


@router.delete("/{run_id}", response_model=Run, responses=error_responses(404, 422, 503),
               summary="Cancel a queued or running run; delete a finished one and its model")
def delete_run(run_id: RunId, runs: RunsDep) -> dict:
    return runs.remove(run_id)


@router.get("/{run_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Server-Sent Events: progress, snapshot, epoch, then "
                                            "one of done, failed, cancelled"},
                       **error_responses(404, 422, 503)},
            summary="Follow a run as Server-Sent Events (history first; Last-Event-ID resumes)")
async def run_events(run_id: RunId, runs: RunsDep,
                     last_event_id: Annotated[str | None, Header(max_length=20)] = None,
                     ) -> StreamingResponse:
    await anyio.to_thread.run_sync(runs.get, run_id)  # 404 for an unknown run
    after = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else 0
    return StreamingResponse(stream(runs.store, run_id, after), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def stream(store: Store, run_id: str, after: int) -> AsyncIterator[str]:
    """Every event after id ``after``, then new ones as they come, until the final one (or the
    run is deleted). After ``STREAM_SECONDS`` the stream ends just after it has passed on new
    events, so that the client's reconnection (``RETRY_MS``) falls inside the gap before the next
    one instead of adding to it; a quiet stream (a queued run) ends at most ``LINGER_SECONDS``
    later. Starlette stops the generator when the client goes away."""
    opened = quiet_since = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    while True:
        events = await anyio.to_thread.run_sync(store.events, run_id, after)
        for seq, name, data in events:
            after = seq
            yield f"id: {seq}\nevent: {name}\ndata: {data}\n\n"
            if name in FINAL:
                return
        age = time.monotonic() - opened
        if events:
            quiet_since = time.monotonic()
            if age >= STREAM_SECONDS:
                return
            continue
        if age >= STREAM_SECONDS + LINGER_SECONDS:
            return
        if await anyio.to_thread.run_sync(store.get, run_id) is None:
            return
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await anyio.sleep(POLL_SECONDS)


@router.post("/{run_id}/activations", response_model=RunActivationsResponse,
             dependencies=[JsonBody], responses=error_responses(400, 404, 413, 415, 422, 503),
             summary="A drawing's activations under the weights of a run's snapshot step")
def run_activations(run_id: RunId, body: RunDrawing, runs: RunsDep,
                    settings: SettingsDep) -> dict:
    started = time.perf_counter()
    prepared = service.prepare(body.image, body.pixels, settings, runs.dataset(run_id))
    return runs.activations(run_id, body.step, prepared, started)


@router.get("/{run_id}/params/{param}", response_model=RunParamResponse,
            responses=error_responses(404, 422, 503),
            summary="One parameter array under the weights of a run's snapshot step (float16)")
def run_param(run_id: RunId, param: Annotated[str, Path(max_length=100)], runs: RunsDep,
              step: Annotated[int, Query(ge=0, description="a snapshot's step (the latest kept "
                                                             "one at or before it is used)")],
              ) -> dict:
    return runs.param(run_id, step, param)


# Two operations share each of these paths; Starlette's 405 would name only the first one's
# method in Allow, so the other methods get an answer that names both.
def _not_allowed(allowed: str):
    def refuse() -> None:
        raise HTTPException(405, headers={"Allow": allowed})
    return refuse


OTHER_METHODS = ["HEAD", "PUT", "PATCH", "OPTIONS", "TRACE"]
router.add_api_route("", _not_allowed("GET, POST"), methods=OTHER_METHODS,
                     include_in_schema=False)
router.add_api_route("/{run_id}", _not_allowed("GET, DELETE"), methods=OTHER_METHODS,
                     include_in_schema=False)
