"""The short load run (benchmarks/load.py --short, ≈10 s on loopback): a real ``cnnvis serve``
under mixed load, overload and clients that disconnect mid-request. Fails on any 5xx, any
connection error of a well-behaved client, a 503 without Retry-After or below capacity, or a
slot left behind."""

import json
import subprocess
import sys

from model.data import REPO_ROOT

HARNESS = REPO_ROOT / "benchmarks" / "load.py"


def test_short_load_run(tmp_path):
    run = subprocess.run([sys.executable, str(HARNESS), "--short", "--out", str(tmp_path)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    result = json.loads((tmp_path / "load_short.json").read_text())
    assert result["failures"] == [], result["failures"]
    assert run.returncode == 0, run.stderr[-3000:]

    steady = result["steady"]
    assert steady["ok"] > 0 and steady["ok"] == steady["requests"]
    assert set(steady["by_kind"]) == {"predict_image", "predict_pixels", "activations_image"}
    assert steady["healthz_meanwhile"]["failed"] == 0

    overload = result["overload"]
    statuses = {int(k) for k in overload["statuses"]}
    assert statuses <= {200, 503} and 503 in statuses, overload["statuses"]
    assert overload["connection_errors"] == {}
    assert overload["refused_without_retry_after"] == 0

    gone = result["disconnect"]
    assert gone["polite"]["ok"] > 0 and gone["polite"]["statuses"].keys() == {"200"}
    assert (gone["in_flight_after"], gone["waiting_after"]) == (0, 0)
    assert gone["server_alive"] and gone["open_files_after"] <= gone["open_files_before"] + 2

    assert result["activations"]["pixels"]["response_bytes_max"] > 0
    assert result["server_alive_at_end"]
