"""Speed of cnnvis's NumPy networks against PyTorch CPU (and, for SimpleConvNet, the book-style
NumPy code), measured side by side in interleaved rounds in one process (medians and ratios):
every registered architecture's training step, single image and batch of 1,000 (issue 18).

Usage: cnnvis bench speed [--rounds 7] [--zoo-rounds 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from book_style import BookSimpleConvNet
from torch_twin import twin

from model import ARCHITECTURES, build
from model.optim import Adam
from model.runtime import keep_freed_memory

BATCH = 100
STEPS_PER_EPOCH = 600
THREADS = min(2, os.cpu_count() or 1)  # PyTorch's intra-op threads and cnnvis's batch threads


def environment(torch) -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}}
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except (TypeError, ValueError):
        info["blas"] = {}
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


class Ours:
    name = "cnnvis (NumPy float32)"

    def __init__(self, arch: str = "simple_convnet"):
        self.net = build(arch, rng=np.random.default_rng(0))
        self.opt = Adam(lr=0.001)
        self.rng = np.random.default_rng(0)

    def train_step(self, x, t):
        # as `cnnvis train` does: the batch over THREADS threads, dropout on
        _, grads, _ = self.net.loss_and_grads(x, t, rng=self.rng, threads=THREADS)
        self.opt.step(self.net.params, grads)

    def forward(self, x):
        # As many threads over a batch as PyTorch gets intra-op threads (the batch in halves,
        # BLAS on one thread each); a single image runs on one thread.
        return self.net.predict(x, threads=THREADS)


class Book:
    name = "book-style NumPy (float64)"

    def __init__(self):
        self.net = BookSimpleConvNet()

    def train_step(self, x, t):
        self.net.train_step(x.astype(np.float64), t)

    def forward(self, x):
        return self.net.forward(x.astype(np.float64))


class Torch:
    name = "PyTorch CPU (eager)"

    def __init__(self, torch, arch: str = "simple_convnet"):
        self.torch = torch
        torch.manual_seed(0)
        # the same layers, shapes and starting weights (benchmarks/torch_twin.py)
        self.net = twin(build(arch, rng=np.random.default_rng(0)), torch)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.001)
        self.loss = torch.nn.CrossEntropyLoss()

    def train_step(self, x, t):
        xt, tt = self.torch.from_numpy(x), self.torch.from_numpy(t)
        self.net.train()  # dropout on, as ours
        self.opt.zero_grad(set_to_none=True)
        self.loss(self.net(xt), tt).backward()
        self.opt.step()

    def forward(self, x):
        self.net.eval()
        with self.torch.inference_mode():
            return self.torch.softmax(self.net(self.torch.from_numpy(x)), dim=1).numpy()


SETTLE_SECONDS = 0.3


def time_block(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` calls, after one untimed call and a pause.

    The pause lets the previous implementation's worker threads (OpenMP and OpenBLAS spin
    after each parallel region) go idle, so no one is timed while another's threads spin.
    """
    time.sleep(SETTLE_SECONDS)
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def interleaved(impls: list, cases: dict, rounds: int) -> dict:
    """Median seconds per case and implementation: ``cases`` maps a name to (fn(impl), calls
    per block); each round times every case for every implementation, in alternating order."""
    for impl in impls:  # warm up (allocators, BLAS threads, torch's first-call costs)
        for fn, _ in cases.values():
            fn(impl)
    samples = {case: {impl.name: [] for impl in impls} for case in cases}
    for r in range(rounds):
        for case, (fn, repeat) in cases.items():
            order = impls if r % 2 == 0 else impls[::-1]
            for impl in order:
                samples[case][impl.name].append(time_block(lambda fn=fn, impl=impl: fn(impl),
                                                           repeat))
    return {case: {name: statistics.median(v) for name, v in per.items()}
            for case, per in samples.items()}


def inputs(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    x100 = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    t100 = rng.integers(0, 10, BATCH).astype(np.int64)
    return x100, t100, x100[:1].copy(), rng.random((1000, 1, 28, 28), dtype=np.float32)


def run(rounds: int, zoo_rounds: int) -> dict:
    try:
        import torch
        torch.set_num_threads(THREADS)
    except ImportError:
        torch = None
    impls = [Ours(), Book()] + ([Torch(torch)] if torch is not None else [])
    x100, t100, x1, x1000 = inputs(np.random.default_rng(0))
    # Enough calls per block that the median is the steady state (an epoch runs 600 steps back
    # to back), not the first calls after the settling pause, when caches are cold and the
    # worker threads of every implementation are just waking up.
    cases = {
        "train_step_b100": (lambda m: m.train_step(x100, t100), 20),
        "forward_1": (lambda m: m.forward(x1), 200),
        "forward_b1000": (lambda m: m.forward(x1000), 5),
    }
    medians = interleaved(impls, cases, rounds)
    medians["epoch_600_steps"] = {name: s * STEPS_PER_EPOCH
                                  for name, s in medians["train_step_b100"].items()}
    return {"environment": environment(torch), "rounds": rounds, "zoo_rounds": zoo_rounds,
            "seconds": medians,
            "implementations": [impl.name for impl in impls],
            "zoo": zoo(torch, zoo_rounds, x100, t100, x1, x1000)}


TRAIN_IMAGES = 55_000  # MNIST's 60k minus the 5k validation split


def zoo(torch, rounds: int, x100, t100, x1, x1000) -> dict:
    """Every registered architecture against its PyTorch twin: the training step as ``cnnvis
    train`` runs it (batch 100 over THREADS threads, dropout on, Adam), one image, and a batch of
    1,000; median seconds, the epoch a step implies, and the ratios."""
    out = {}
    for arch in ARCHITECTURES:  # registration order
        impls = [Ours(arch)] + ([Torch(torch, arch)] if torch is not None else [])
        cases = {"train_step_b100": (lambda m: m.train_step(x100, t100), 10),
                 "forward_1": (lambda m: m.forward(x1), 50),
                 "forward_b1000": (lambda m: m.forward(x1000), 3)}
        medians = interleaved(impls, cases, rounds)
        row = {"params": impls[0].net.param_count(), "seconds": medians,
               "epoch_s": medians["train_step_b100"][Ours.name] * TRAIN_IMAGES / BATCH}
        if torch is not None:
            row["ratio"] = {case: m[Ours.name] / m[Torch.name] for case, m in medians.items()}
        out[arch] = row
    return out


def table(result: dict) -> str:
    names = result["implementations"]
    baseline = next((n for n in names if n.startswith("PyTorch")), names[-1])
    ours = names[0]
    head = "| case | " + " | ".join(names) + f" | cnnvis / {baseline.split(' ')[0]} |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    labels = {"train_step_b100": "train step (fwd+bwd+Adam, batch 100)",
              "epoch_600_steps": "one epoch (600 steps, from the step median)",
              "forward_1": "single-image forward", "forward_b1000": "batch of 1000 forward"}
    for case, label in labels.items():
        row = result["seconds"][case]
        cells = [f"{row[n] * 1e3:.2f} ms" if row[n] < 1 else f"{row[n]:.2f} s" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {row[ours] / row[baseline]:.2f}× |")
    return "\n".join(lines)


def zoo_table(rows: dict) -> str:
    """Per architecture: each case's cnnvis and PyTorch times and their ratio."""
    labels = {"train_step_b100": f"train step (batch {BATCH}, {THREADS} threads)",
              "forward_1": "single image", "forward_b1000": "batch of 1000"}
    head = ["architecture", "params"]
    for label in labels.values():
        head += [f"{label}: cnnvis", "PyTorch", "ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def ms(v):
        return f"{v * 1e3:.2f} ms" if v < 1 else f"{v:.2f} s"

    for arch, row in rows.items():
        cells = [arch, f"{row['params']:,}"]
        for case in labels:
            times = row["seconds"][case]
            ratio = row.get("ratio", {}).get(case)
            cells += [ms(times[Ours.name]), ms(times[Torch.name]) if Torch.name in times
                      else "-", f"{ratio:.2f}×" if ratio is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--zoo-rounds", type=int, default=5,
                        help="interleaved rounds per architecture in the zoo table")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    keep_freed_memory()
    result = run(args.rounds, args.zoo_rounds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(result, indent=1) + "\n")
    md = table(result)
    md += "\n\n" + zoo_table(result["zoo"])
    env = result["environment"]
    md += (f"\n\nnumpy {env['numpy']}, torch {env.get('torch', 'not installed')}, "
           f"{env['cpus']} CPUs, "
           f"{', '.join(f'{k}={v}' for k, v in env['env'].items()) or 'no BLAS env'}; "
           f"medians of {result['rounds']} interleaved rounds (per architecture: "
           f"{result['zoo_rounds']}).\n")
    (out / "speed.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
