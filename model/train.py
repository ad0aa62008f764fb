"""The training loop: mini-batch SGD-family training with a validation split, checkpoint
selection on validation accuracy, evaluation on the test set, and the weights manifest.

Reference: Saito, "Deep Learning from Scratch", ch. 4.5 and 7.5 (Trainer).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, replace
from typing import Any

import numpy as np
from tqdm import tqdm

from .augment import random_distort, random_erase, random_flip, random_shift
from .data import load_dataset, to_float
from .dataset_registry import DATASETS, DEFAULT_DATASET, get_dataset
from .networks import Sequential, build
from .optim import OPTIMIZERS, make_optimizer
from .runtime import available_cores
from .weights import save


def option(default: Any = MISSING, *, factory: Any = MISSING, help: str,
           choices: tuple[str, ...] | None = None) -> Any:
    """A config field with its help text (and allowed values): ``cnnvis train`` derives its
    command-line flags from these."""
    return field(default=default, default_factory=factory,
                 metadata={"help": help, "choices": choices})


@dataclass
class TrainConfig:
    arch: str = option("simple_convnet", help="architecture name in the registry")
    dataset: str = option(DEFAULT_DATASET, help="what to train on", choices=tuple(DATASETS))
    arch_config: dict[str, Any] = option(factory=dict, help="JSON constructor arguments")
    epochs: int = option(20, help="passes over the training split")
    batch_size: int = option(100, help="images per gradient step")
    optimizer: str = option("adam", help="update rule", choices=tuple(OPTIMIZERS))
    lr: float = option(0.001, help="learning rate")
    lr_decay: float = option(0.3, help="lr is multiplied by this at each of --decay-epochs")
    decay_epochs: list[int] = option(
        factory=list, help="epochs (from 1) at which lr is multiplied by --lr-decay")
    shift: int = option(0, help="random shift augmentation (pixels)")
    rotation: float = option(0.0, help="random rotation augmentation, at most this many degrees")
    scale: float = option(
        0.0, help="random scaling augmentation by a factor in [1 - scale, 1 + scale]")
    elastic_alpha: float = option(
        0.0, help="elastic distortion strength in pixels (Simard et al. 2003; 0: off)")
    elastic_sigma: float = option(4.0, help="elastic distortion smoothness in pixels")
    flip: float = option(
        0.0, help="probability of mirroring an image left-right (garments, not digits)")
    erase: float = option(
        0.0, help="probability of random erasing: a random rectangle set to noise "
                  "(Zhong et al. 2017)")
    weight_decay: float = option(
        0.0, help="L2 penalty 0.5·wd·|W|² on every weight (not biases)")
    val_size: int = option(
        5000, help="images held out from the 60k training images for model selection")
    train_size: int = option(
        0, help="train on this many images drawn from the training split (0: all of it)")
    threads: int = option(
        0, help="threads each batch is split over (default 0: the available cores)")
    seed: int = option(0, help="seed of every random draw (split, init, batches, augmentation)")
    name: str = option("", help="weights name (cnnvis train: the architecture; empty: nothing "
                                  "is written)")
    out_dir: str = option("weights", help="where <name>.npz/.json are written")
    data_dir: str | None = option(
        None, help="the dataset's directory (default: its environment variable, "
                   "$CNNVIS_DATA_DIR for MNIST, else the shipped datasets/<name>)")


def evaluate(net: Sequential, x: np.ndarray, labels: np.ndarray,
             threads: int | None = None) -> dict[str, Any]:
    """Accuracy, per-class accuracy, 10×10 confusion matrix (rows: true, cols: predicted), loss.

    ``threads``: inference threads (default: the available cores; see ``Sequential.logits``).
    """
    k = net.output_size
    logits = net.logits(x, threads=threads or available_cores())
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, logits.argmax(axis=1)), 1)
    loss = net.loss_layer.forward(logits, labels)[0] if len(x) else 0.0
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {"accuracy": float(confusion.trace() / max(len(x), 1)),
            "loss": float(loss),
            "per_class_accuracy": [round(float(a), 6) for a in per_class],
            "confusion_matrix": confusion.tolist()}


def split_train_val(n: int, val_size: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def lr_at(config: TrainConfig, epoch: int) -> float:
    """Step schedule: lr × decay^(number of decay epochs reached), epochs counted from 1."""
    steps = sum(1 for e in config.decay_epochs if epoch >= e)
    return float(f"{config.lr * config.lr_decay ** steps:.6g}")  # 9e-05, not 8.999999999999999e-05


def augment_batch(config: TrainConfig, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer shifts only, unless rotation, scaling or elastic distortion are asked for: then
    one bilinear warp does them all, with the translation drawn continuously in ±shift. Then
    mirroring and random erasing, each only when asked for (no draw otherwise)."""
    if config.rotation or config.scale or config.elastic_alpha:
        x = random_distort(x, rng, config.shift, config.rotation, config.scale,
                           config.elastic_alpha, config.elastic_sigma)
    else:
        x = random_shift(x, config.shift, rng)
    if config.flip:
        x = random_flip(x, config.flip, rng)
    if config.erase:
        x = random_erase(x, config.erase, rng)
    return x


def add_weight_decay(params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                     weight_decay: float) -> None:
    """Add the gradient of 0.5·wd·|W|² to every ``*.weight`` gradient, in place."""
    if weight_decay:
        for key, value in params.items():
            if key.endswith(".weight"):
                grads[key] = grads[key] + weight_decay * value


# ``hook(event, fields)``: "start" {net, steps_total, x_val, y_val}, then "step" {net, epoch,
# step (from 1 over the run), loss, correct, seen} after every update, "evaluate" {} before each
# epoch's evaluation and before the final one, and "epoch" {row} after each epoch's evaluation.
# A hook only reads (it must not draw from the trainer's generator).
Hook = Callable[[str, dict[str, Any]], None]


def train(config: TrainConfig, command: str = "", progress: bool = True,
          data: dict[str, np.ndarray] | None = None,
          checksums: dict[str, Any] | None = None,
          hook: Hook | None = None) -> tuple[Sequential, dict[str, Any]]:
    """Train ``config.arch`` on ``config.dataset`` (or on ``data`` with the same keys), return
    (net, info).

    Writes ``<out_dir>/<name>.npz/.json`` when ``config.name`` is set; ``hook`` sees progress
    (the server's training runs stream it).
    """
    if config.threads <= 0:  # resolved here, so the manifest records the count used
        config = replace(config, threads=available_cores())
    dataset = get_dataset(config.dataset)
    if data is None:
        data, checksums = load_dataset(dataset, config.data_dir)
    rng = np.random.default_rng(config.seed)
    train_idx, val_idx = split_train_val(len(data["train_labels"]), config.val_size, rng)
    if 0 < config.train_size < len(train_idx):  # no draw otherwise: full-split runs unchanged
        train_idx = np.sort(rng.choice(train_idx, size=config.train_size, replace=False))
    x_all = to_float(data["train_images"])
    y_all = data["train_labels"].astype(np.int64)
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_val, y_val = x_all[val_idx], y_all[val_idx]
    x_test, y_test = to_float(data["test_images"]), data["test_labels"].astype(np.int64)
    probe = rng.choice(len(x_train), size=min(10000, len(x_train)), replace=False)

    net = build(config.arch, config.arch_config, rng=rng)
    initial = {key: value.copy() for key, value in net.params.items()
               if key == f"{net.layers[0][0]}.weight"}
    optimizer = make_optimizer(config.optimizer, config.lr)
    history: list[dict[str, Any]] = []
    best = {"val_accuracy": -1.0, "epoch": 0, "params": None}
    steps_per_epoch = max(len(x_train) // config.batch_size, 1)
    if hook is not None:
        hook("start", {"net": net, "steps_total": steps_per_epoch * config.epochs,
                       "x_val": x_val, "y_val": y_val})
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        optimizer.lr = lr_at(config, epoch)
        order = rng.permutation(len(x_train))
        epoch_start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}",
                   disable=not progress, leave=False, unit="step")
        for step in bar:
            batch = order[step * config.batch_size:(step + 1) * config.batch_size]
            xb = augment_batch(config, x_train[batch], rng)
            yb = y_train[batch]
            loss, grads, logits = net.loss_and_grads(xb, yb, rng=rng, threads=config.threads)
            add_weight_decay(net.params, grads, config.weight_decay)
            optimizer.step(net.params, grads)
            loss_sum += loss * len(batch)
            hits = int((logits.argmax(axis=1) == yb).sum())
            correct += hits
            seen += len(batch)
            if hook is not None:
                hook("step", {"net": net, "epoch": epoch,
                              "step": (epoch - 1) * steps_per_epoch + step + 1, "loss": loss,
                              "correct": hits, "seen": len(batch)})
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
        epoch_seconds = time.perf_counter() - epoch_start
        if hook is not None:
            hook("evaluate", {})
        # evaluated on the training threads too: a run beside a server keeps to its share
        train_eval = evaluate(net, x_train[probe], y_train[probe], config.threads)
        val_eval = (evaluate(net, x_val, y_val, config.threads) if len(x_val)
                    else {"accuracy": 0.0, "loss": 0.0})
        test_eval = evaluate(net, x_test, y_test, config.threads)
        row = {"epoch": epoch, "lr": optimizer.lr, "loss": round(loss_sum / seen, 6),
               "train_accuracy": round(train_eval["accuracy"], 6),
               "val_accuracy": round(val_eval["accuracy"], 6),
               "val_loss": round(val_eval["loss"], 6),
               "test_accuracy": round(test_eval["accuracy"], 6),
               "test_loss": round(test_eval["loss"], 6),
               "seconds": round(epoch_seconds, 2)}
        history.append(row)
        if hook is not None:
            hook("epoch", {"row": row})
        if progress:
            tqdm.write(" ".join(f"{k}={v}" for k, v in row.items()))
        if val_eval["accuracy"] > best["val_accuracy"]:
            best = {"val_accuracy": val_eval["accuracy"], "epoch": epoch,
                    "params": {k: v.copy() for k, v in net.params.items()}}
    duration = time.perf_counter() - started
    if hook is not None:
        hook("evaluate", {})
    if best["params"] is not None:
        net.params = best["params"]
    final = evaluate(net, x_test, y_test, config.threads)
    info = {
        "training": {**asdict(config), "command": command, "duration_seconds": round(duration, 1),
                     "steps_per_epoch": steps_per_epoch, "selected_epoch": best["epoch"],
                     "selection": "epoch with the highest validation accuracy",
                     "split": {"train": int(len(train_idx)), "val": int(len(val_idx)),
                               "seed": config.seed},
                     "numpy": np.__version__, "python": platform.python_version(),
                     # thread settings change float summation order, so record them too
                     "environment": {k: v for k, v in os.environ.items()
                                     if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}},
        "dataset": {"name": dataset.name, "title": dataset.title,
                    "classes": list(dataset.classes),
                    "checksums": {k: v["sha256"] for k, v in (checksums or {}).items()}},
        "metrics": {"test_accuracy": final["accuracy"], "test_loss": final["loss"],
                    "val_accuracy": best["val_accuracy"],
                    "per_class_accuracy": final["per_class_accuracy"],
                    "confusion_matrix": final["confusion_matrix"]},
        "history": history,
    }
    if config.name:
        save(net, config.out_dir, config.name, info, initial)
    return net, info
