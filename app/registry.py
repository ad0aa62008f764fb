"""The loaded networks: each shipped model validated, frozen and self-tested on its dataset's
shipped sample at startup, with its manifest, dataset and misclassified gallery; read-only and
shared by all threads.
Finished training runs join them through a lookup (app/runs/models.py) that loads on first use."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from model.data import DatasetError, load_sample, to_float
from model.dataset_registry import DATASETS, MNIST, Dataset, dataset_of
from model.inputs import fit_input
from model.misclassified import errors_path, load_misclassified
from model.networks import ARCH_INFO, Sequential
from model.preprocess import MNIST_SIDE
from model.reference import MANIFEST_KEY as REFERENCE_KEY
from model.reference import Reference
from model.reference import load as load_reference_file
from model.testset import load_test_set
from model.units import MANIFEST_KEY as UNITS_KEY
from model.units import load_units, units_path
from model.weights import DEFAULT_MODEL, WeightsError, attached, load_checked

from .config import Settings


class StartupError(RuntimeError):
    """The service cannot start: the message names the file and the problem."""


class NotFoundError(LookupError):
    """An unknown model, layer or parameter; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


def name_list(names: Collection[str]) -> str:
    """The valid names for a NotFoundError message: ``a, b, c`` or ``(none)``."""
    return ", ".join(names) if names else "(none)"


@dataclass(frozen=True)
class LoadedModel:
    """One validated, frozen network with its manifest; read-only, shared by all threads."""

    name: str
    net: Sequential
    manifest: dict[str, Any]
    initial: dict[str, np.ndarray]
    path: Path
    self_test_accuracy: float = 0.0
    forward_ms: float = 0.0  # median single-image prediction time, measured at load
    misclassified: dict[str, np.ndarray] | None = field(default=None, repr=False)
    misclassified_note: str = ""
    run: dict[str, Any] | None = None  # a training run's id, config, history and result
    units: dict[str, Any] | None = field(default=None, repr=False)  # model/units.py's arrays
    units_note: str = ""
    reference: Reference | None = field(default=None, repr=False)  # nearest digits, data map
    reference_note: str = ""
    dataset: Dataset = MNIST  # what it was trained on: class names, preprocessing

    @property
    def classes(self) -> tuple[str, ...]:
        return self.dataset.classes

    @property
    def sha256(self) -> str:
        return str(self.manifest["sha256"])

    @property
    def test_accuracy(self) -> float | None:
        value = (self.manifest.get("metrics") or {}).get("test_accuracy")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def conv_layers(self) -> list[str]:
        return [name for name, layer in self.net.layers if layer.kind == "conv"]

    def summary(self) -> dict[str, Any]:
        arch = str(self.manifest["arch"])
        return {
            "name": self.name, "arch": arch,
            "description": str(self.manifest.get("description") or ARCH_INFO.get(arch, "")),
            "param_count": self.net.param_count(), "test_accuracy": self.test_accuracy,
            "input_shape": list(self.net.input_shape), "layers": self.net.describe(),
            "has_misclassified": self.misclassified is not None, "run": self.run,
            "has_units": self.units is not None,
            "dataset": self.dataset.name, "classes": list(self.classes),
        }

    def detail(self) -> dict[str, Any]:
        training = self.manifest.get("training")
        summary = None
        if isinstance(training, dict):
            summary = {
                "config": {k: v for k, v in training.items()
                           if k not in ("command", "duration_seconds", "selected_epoch")},
                "command": training.get("command"), "duration": training.get("duration_seconds"),
                "selected_epoch": training.get("selected_epoch"),
            }
        metrics = self.manifest.get("metrics") or {}
        return {**self.summary(), "training": summary,
                "history": self.manifest.get("history") or [],
                "per_class_accuracy": metrics.get("per_class_accuracy"),
                "confusion_matrix": metrics.get("confusion_matrix")}


class RunLookup(Protocol):
    """Finished training runs as models (app/runs/models.py)."""

    def names(self) -> list[str]: ...

    def get(self, name: str) -> LoadedModel | None: ...


class ModelMap(Mapping[str, LoadedModel]):
    """The shipped models, then the finished runs' (newest first), as one read-only mapping."""

    def __init__(self, shipped: Mapping[str, LoadedModel], runs: RunLookup):
        self.shipped, self.runs = shipped, runs

    def __getitem__(self, name: str) -> LoadedModel:
        if name in self.shipped:
            return self.shipped[name]
        model = self.runs.get(name)
        if model is None:
            raise KeyError(name)
        return model

    def __iter__(self) -> Iterator[str]:
        return iter([model.name for model in self.values()])

    def __len__(self) -> int:
        return len(self.values())

    def values(self) -> list[LoadedModel]:  # type: ignore[override]
        """Every model now: a run deleted (or whose files are damaged) meanwhile is left out."""
        runs = (self.runs.get(name) for name in self.runs.names() if name not in self.shipped)
        return [*self.shipped.values(), *(model for model in runs if model is not None)]


# Each dataset's shipped sample (images, labels, indices) by dataset name.
Samples = Mapping[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class Registry:
    """Every loaded model by name, the default one and each dataset's shipped sample."""

    models: Mapping[str, LoadedModel]
    default: str
    samples: Samples = field(repr=False)

    def default_for(self, dataset: str) -> str | None:
        """The model the page opens for a dataset: the default model if it is trained on it,
        else the most accurate one that is (shipped before runs), else None."""
        if self.models[self.default].dataset.name == dataset:
            return self.default
        trained = [m for m in self.models.values() if m.dataset.name == dataset]
        best = max(trained, key=lambda m: (m.run is None, m.test_accuracy or 0.0), default=None)
        return best.name if best else None

    def get(self, name: str | None) -> LoadedModel:
        key = self.default if name is None else name
        model = self.models.get(key)
        if model is None:
            raise NotFoundError(f"unknown model {key!r}; loaded models: {name_list(self.models)}"
                                + (" (a training run's model exists only while its run is kept "
                                   "and done)" if key.startswith("run-") else ""))
        return model

    def with_runs(self, runs: RunLookup) -> Registry:
        """The same registry with finished runs' models added behind the shipped ones."""
        return replace(self, models=ModelMap(self.models, runs))


def find_manifests(directory: Path) -> list[Path]:
    """The ``*.json`` files in ``directory`` that are weight manifests (they name an "arch")."""
    if not directory.is_dir():
        raise StartupError(f"{directory}: weights directory not found (set CNNVIS_WEIGHTS_DIR)")
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            content = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StartupError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(content, dict) and "arch" in content:
            found.append(path)
    return found


def self_test(net: Sequential, samples: dict[str, np.ndarray]) -> float:
    """Accuracy on a dataset's shipped sample (already in the dataset's format)."""
    x = to_float(samples["images"])
    probs = net.predict(fit_input(x[:, 0], net.input_shape))
    return float(np.mean(probs.argmax(axis=1) == samples["labels"]))


def single_image_ms(net: Sequential, samples: dict[str, np.ndarray], repeat: int = 15) -> float:
    """Median milliseconds of one single-image prediction on this machine (after a warm-up)."""
    x = fit_input(to_float(samples["images"][:1])[:, 0], net.input_shape)
    net.predict(x)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        net.predict(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def load_gallery(path: Path, sha256: str) -> tuple[dict[str, np.ndarray] | None, str]:
    """The misclassified test digits stored beside a manifest, or None and why not. A corrupt
    file stops startup; one made for other weights (retrained since) is only left unserved."""
    errors = errors_path(path)
    command = f"`cnnvis misclassified {path.stem} --data-dir DIR`"
    if not errors.is_file():
        return None, (f"model {path.stem!r} has no misclassified gallery ({errors.name}); make "
                      f"it with {command}")
    try:
        gallery = load_misclassified(errors)
    except WeightsError as exc:
        raise StartupError(str(exc)) from None
    if str(gallery["weights_sha256"]) != sha256:
        return None, (f"{errors.name} was made for other weights than {path.stem!r} has now; "
                      f"remake it with {command}")
    for value in gallery.values():
        value.flags.writeable = False
    return gallery, ""


def load_unit_stats(path: Path, manifest: dict[str, Any],
                    net: Sequential) -> tuple[dict[str, Any] | None, str]:
    """The units file the manifest records (checksummed and validated), or None and why not. A
    missing, corrupt or altered file stops startup; one made for other weights is left unserved."""
    command = f"`cnnvis units {path.stem}`"
    try:
        found = attached(path, manifest, UNITS_KEY)
        if found is None:
            return None, (f"model {path.stem!r} has no units file ({units_path(path).name}); "
                          f"make it with {command}")
        units = load_units(found, net)
    except WeightsError as exc:
        raise StartupError(str(exc)) from None
    if str(units["weights_sha256"]) != str(manifest["sha256"]):
        return None, (f"{found.name} was made for other weights than {path.stem!r} has now; "
                      f"remake it with {command}")
    try:
        load_test_set(str(units["dataset"]))  # read now (once per process), not by a request
    except (DatasetError, ValueError) as exc:
        raise StartupError(f"{found}: cannot read its test images ({exc})") from None
    return units, ""


def load_reference(path: Path, manifest: dict[str, Any]) -> tuple[Reference | None, str]:
    """The reference set (model/reference.py: nearest digits, data map, atypical threshold) the
    manifest records, checksummed and validated; or None and why not. A missing, corrupt or
    altered file, or one made for other weights, stops startup."""
    command = f"`cnnvis neighbors {path.stem}`"
    try:
        found = attached(path, manifest, REFERENCE_KEY)
        if found is None:
            return None, (f"model {path.stem!r} has no reference set of training images; make "
                          f"it with {command}")
        reference = load_reference_file(found)
    except WeightsError as exc:
        raise StartupError(str(exc)) from None
    if reference.weights_sha256 != str(manifest["sha256"]):
        raise StartupError(f"{found}: made for other weights than {path.name} names; remake it "
                           f"with {command}")
    return reference, ""


Check = Callable[[LoadedModel], None]


def load_samples() -> dict[str, dict[str, np.ndarray]]:
    """Every dataset's shipped sample, or a StartupError naming the unreadable file."""
    samples = {}
    for dataset in DATASETS.values():
        try:
            samples[dataset.name] = load_sample(dataset=dataset)
        except (OSError, KeyError, ValueError) as exc:
            raise StartupError(f"{dataset.sample_path}: cannot read the {dataset.title} sample "
                               f"({exc})") from None
        for value in samples[dataset.name].values():
            value.flags.writeable = False
    return samples


def load_model(path: Path, samples: Samples, min_accuracy: float,
               check: Check | None = None) -> LoadedModel:
    """Load, validate, freeze and self-test one network on its dataset's sample, then ``check``
    it (a StartupError from ``check`` stops startup too); StartupError names what is wrong."""
    try:
        net, manifest, initial = load_checked(path)
    except WeightsError as exc:
        raise StartupError(str(exc)) from None
    try:
        dataset = dataset_of(manifest)
    except ValueError as exc:
        raise StartupError(f"{path}: {exc}") from None
    shape = tuple(net.input_shape)
    if len(shape) != 3 or shape[0] != 1 or shape[1] < MNIST_SIDE or shape[2] < MNIST_SIDE:
        raise StartupError(f"{path}: input shape {shape} is not a single-channel image of at "
                           f"least {MNIST_SIDE}×{MNIST_SIDE}; cnnvis serves MNIST-format "
                           f"networks")
    if net.output_size != len(dataset.classes):
        raise StartupError(f"{path}: the network has {net.output_size} outputs, expected "
                           f"{len(dataset.classes)} ({dataset.title}'s classes)")
    net.freeze()
    for value in initial.values():
        value.flags.writeable = False
    sample = samples[dataset.name]
    accuracy = self_test(net, sample)
    min_accuracy = min(min_accuracy, dataset.self_test_floor)
    if accuracy < min_accuracy:
        raise StartupError(f"{path}: self-test failed: {accuracy:.0%} of the "
                           f"{len(sample['labels'])} shipped {dataset.title} sample images "
                           f"classified correctly, at least {min_accuracy:.0%} needed (wrong or "
                           f"untrained weights?)")
    gallery, note = load_gallery(path, str(manifest["sha256"]))
    units, units_note = load_unit_stats(path, manifest, net)
    reference, reference_note = load_reference(path, manifest)
    model = LoadedModel(name=path.stem, net=net, manifest=manifest, initial=initial, path=path,
                        self_test_accuracy=accuracy, forward_ms=single_image_ms(net, sample),
                        misclassified=gallery, misclassified_note=note, units=units,
                        units_note=units_note, reference=reference,
                        reference_note=reference_note, dataset=dataset)
    if check is not None:
        check(model)
    return model


def load_models(settings: Settings, check: Check | None = None) -> Registry:
    """Load every manifest in the weights directory (each one ``check``-ed as it loads), or
    raise one StartupError."""
    samples = load_samples()
    manifests = find_manifests(Path(settings.weights_dir))
    if not manifests:
        raise StartupError(f"{settings.weights_dir}: no weights found (expected <name>.json "
                           f"manifests with their .npz; train with `cnnvis train`)")
    models = {}
    for path in manifests:
        models[path.stem] = load_model(path, samples, settings.min_self_test_accuracy, check)
    if settings.default_model is not None:
        if settings.default_model not in models:
            raise StartupError(f"CNNVIS_DEFAULT_MODEL={settings.default_model!r} is not among the "
                               f"loaded models: {name_list(models)}")
        default = settings.default_model
    else:
        default = DEFAULT_MODEL if DEFAULT_MODEL in models else next(iter(models))
    return Registry(models=models, default=default, samples=samples)
