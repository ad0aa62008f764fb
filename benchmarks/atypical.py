"""How honest the atypical flag is and how fast neighbours are found (issue 17): the share of MNIST
test digits flagged (as stored, and redrawn on the 280×280 pad at random size, place and stroke
width in the pad's ink styles), the share of generated non-digits flagged per kind, the expected
calibration error of the probabilities on the test set, and the server time of one query.

    python benchmarks/atypical.py [--models simple_convnet lenet5] [--digits 2000]

Writes benchmarks/results/atypical.json and .md (``--out`` names another stem). All data is
generated here (model/oddities.py), seeded; the thresholds were calibrated on the validation
split, never on this test set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from app.neighbors_service import neighbors as neighbors_answer
from app.registry import load_model, load_samples
from model.data import REPO_ROOT, load_mnist, load_sample, to_float
from model.features import features
from model.inputs import Prepared, fit_input, round_input
from model.oddities import fonts, non_digits, redrawn_digits
from model.reference import Reference

RESULTS = REPO_ROOT / "benchmarks" / "results"
MODELS = ("simple_convnet", "lenet5", "deep_convnet", "alexnet")
ECE_BINS = 15


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray,
                               bins: int = ECE_BINS) -> float:
    """Guo et al. 2017: the confidence-weighted gap between accuracy and confidence over
    equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def flagged(reference: Reference, feats: np.ndarray) -> np.ndarray:
    """Whether each input's atypicality is above the threshold (the service's rule)."""
    return np.array([reference.score(reference.locate(f)) > reference.threshold for f in feats])


def query_ms(model, repeat: int) -> dict[str, float]:
    """Server time of POST /api/neighbors' work (pixels → answer), and of the search alone."""
    sample = load_sample()
    prepared = [Prepared(round_input(to_float(sample["images"][i:i + 1])[0, 0]), [], 0.0)
                for i in range(len(sample["labels"]))]
    whole, search = [], []
    reference = model.reference
    for i in range(repeat):
        p = prepared[i % len(prepared)]
        started = time.perf_counter()
        neighbors_answer(model, p, 9, started)
        whole.append(time.perf_counter() - started)
        point = reference.locate(features(model.net, fit_input(p.image[None],
                                                               model.net.input_shape))[0])
        started = time.perf_counter()
        reference.nearest(point, max(9, reference.rank))
        search.append(time.perf_counter() - started)
    return {"answer_p50": float(np.median(whole) * 1000),
            "search_p50": float(np.median(search) * 1000),
            "search_p90": float(np.quantile(search, 0.9) * 1000)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--digits", type=int, default=2000, help="test digits scored as stored")
    parser.add_argument("--redrawn", type=int, default=1000, help="test digits redrawn on the pad")
    parser.add_argument("--per-kind", type=int, default=100, help="non-digits of each kind")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", default=str(RESULTS / "atypical"))
    args = parser.parse_args()

    started = time.perf_counter()
    arrays, _ = load_mnist()
    rng = np.random.default_rng(args.seed)
    test_x, test_y = arrays["test_images"], arrays["test_labels"]
    chosen = np.sort(rng.choice(len(test_y), args.digits, replace=False))
    redrawn_idx = np.sort(rng.choice(len(test_y), args.redrawn, replace=False))
    redrawn = redrawn_digits(test_x[redrawn_idx], args.seed)
    others = non_digits(args.per_kind, args.seed + 1)
    generated_s = time.perf_counter() - started
    samples = load_samples()
    report = {"machine": {"python": platform.python_version(), "numpy": np.__version__,
                          "load_average_before": os.getloadavg()},
              "sets": {"test_digits": args.digits, "redrawn_digits": args.redrawn,
                       "non_digits_per_kind": args.per_kind, "seed": args.seed,
                       "fonts": [p.name for p in fonts()], "generation_s": round(generated_s, 1)},
              "models": {}}
    for name in args.models:
        model = load_model(REPO_ROOT / "weights" / f"{name}.json", samples, 0.0)
        if model.reference is None:
            print(f"{name}: no reference set, skipped", file=sys.stderr)
            continue
        net, reference = model.net, model.reference
        all_inputs = fit_input(round_input(to_float(test_x)[:, 0]), net.input_shape)
        probs = net.predict(all_inputs)
        row = {"threshold": reference.threshold, "rank": reference.rank,
               "ece_percent": round(100 * expected_calibration_error(probs, test_y), 3),
               "test_accuracy": float(np.mean(probs.argmax(axis=1) == test_y))}
        row["flagged"] = {
            "test_digits": float(flagged(reference, features(net, all_inputs[chosen])).mean()),
            "redrawn_digits": float(flagged(reference, features(
                net, fit_input(round_input(redrawn), net.input_shape))).mean())}
        kinds = {kind: float(flagged(reference, features(
            net, fit_input(round_input(images), net.input_shape))).mean())
                 for kind, images in others.items()}
        row["flagged"]["non_digits"] = float(np.mean(list(kinds.values())))
        row["flagged"]["by_kind"] = kinds
        row["query_ms"] = query_ms(model, args.queries)
        row["references"] = len(reference)
        report["models"][name] = row
        print(name, json.dumps(row), flush=True)
    report["machine"]["load_average_after"] = os.getloadavg()
    report["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out + ".json").write_text(json.dumps(report, indent=1) + "\n")
    Path(args.out + ".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    lines = ["| model | test digits flagged | redrawn on the pad | non-digits flagged | "
             "ECE (test) | search, 60k refs (p50 / p90) | whole answer (p50) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in report["models"].items():
        f, q = row["flagged"], row["query_ms"]
        lines.append(f"| {name} | {f['test_digits']:.1%} | {f['redrawn_digits']:.1%} | "
                     f"{f['non_digits']:.1%} | {row['ece_percent']:.2f} % | "
                     f"{q['search_p50']:.2f} / {q['search_p90']:.2f} ms | "
                     f"{q['answer_p50']:.2f} ms |")
    kinds = next(iter(report["models"].values()))["flagged"]["by_kind"] if report["models"] else {}
    lines += ["", "Non-digits flagged by kind:", "",
              "| model | " + " | ".join(kinds) + " |", "| --- |" + " --- |" * len(kinds)]
    for name, row in report["models"].items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.0%}" for v in
                                                 row["flagged"]["by_kind"].values()) + " |")
    m = report["machine"]
    lines += ["", f"Load average before / after: {m['load_average_before'][0]:.1f} / "
                  f"{m['load_average_after'][0]:.1f} (2 cores shared); {report['seconds']} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
