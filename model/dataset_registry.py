"""The dataset registry: MNIST (LeCun, Cortes & Burges) and Fashion-MNIST (Xiao, Rasul &
Vollgraf 2017, Zalando, MIT licence), both 28×28 grey IDX files of 10 classes.

Everything dataset-specific is a field here: class names, how a drawing is prepared
(``preprocessing``), where the files live (``env``, the shipped folder), their checksums, the
mirrors to fetch from and the shipped sample. Code elsewhere looks a dataset up by ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .resources import shipped_dir

# The four parts of an IDX dataset and their file stems (the same for both datasets).
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# How a drawing becomes the network's input (model/preprocess.py): "digit" is MNIST's own
# convention (ink bounding box fitted into 20×20, centred by its centre of mass in 28×28);
# "fill" scales the ink's bounding box to fill the 28×28 frame, as Fashion-MNIST's product
# photos were (trimmed, longest side resized to 28, centred).
PREPROCESSING = ("digit", "fill")


@dataclass(frozen=True)
class Dataset:
    """One dataset: ``name`` is the key in manifests, the API and ``--dataset``."""

    name: str
    title: str
    classes: tuple[str, ...]
    noun: str  # one item, as the page's copy says it: "Draw a digit"
    plural: str
    preprocessing: str
    # The share of the shipped sample a working network surely gets right (an untrained one
    # gets about a tenth): the startup self-test asks for no more than this.
    self_test_floor: float
    env: str  # environment variable naming a directory of the four files
    folder: str  # the shipped copy: datasets/<folder>
    sample: tuple[str, str]  # the shipped sample of test images: (shipped folder, file name)
    sha256: dict[str, str]  # file name → SHA-256; raw names checksum the decompressed content
    mirrors: tuple[str, ...]
    source: str
    licence: str
    credit: str

    @property
    def shipped_data(self) -> Path:
        return shipped_dir("datasets") / self.folder

    @property
    def sample_path(self) -> Path:
        """The small labelled sample of test images shipped for the page and the tests."""
        return shipped_dir(self.sample[0]) / self.sample[1]

    def summary(self) -> dict:
        """The JSON-ready description the API serves."""
        return {"name": self.name, "title": self.title, "classes": list(self.classes),
                "noun": self.noun, "plural": self.plural, "preprocessing": self.preprocessing,
                "source": self.source, "licence": self.licence, "credit": self.credit}


MNIST = Dataset(
    name="mnist",
    title="MNIST",
    classes=tuple(str(d) for d in range(10)),
    noun="digit",
    plural="digits",
    preprocessing="digit",
    self_test_floor=0.9,
    env="CNNVIS_DATA_DIR",
    folder="mnist",
    sample=("weights", "mnist_sample.npz"),
    # Official checksums of the gzipped and of the raw IDX files.
    sha256={
        "train-images-idx3-ubyte.gz":
            "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        "train-labels-idx1-ubyte.gz":
            "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
        "t10k-images-idx3-ubyte.gz":
            "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
        "t10k-labels-idx1-ubyte.gz":
            "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
             "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    source="http://yann.lecun.com/exdb/mnist/",
    licence="CC BY-SA 3.0",
    credit="Yann LeCun, Corinna Cortes and Christopher J. C. Burges",
)

FASHION_MNIST = Dataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot"),
    noun="piece of clothing",
    plural="garments",
    preprocessing="fill",
    self_test_floor=0.8,  # the best published small CNNs err on 6-9 % of the test set
    env="CNNVIS_FASHION_MNIST_DIR",
    folder="fashion-mnist",
    sample=("datasets", "fashion-mnist/sample.npz"),
    # SHA-256 of the decompressed IDX files (Zalando publishes MD5s of its gzips, and Debian's
    # dataset-fashion-mnist recompresses them, so the gzip bytes differ while the content is
    # the same): a gzip is accepted when its content matches.
    sha256={
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
             "fashion/"),
    source="https://github.com/zalandoresearch/fashion-mnist",
    licence="MIT",
    credit="Zalando SE (Han Xiao, Kashif Rasul and Roland Vollgraf)",
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (MNIST, FASHION_MNIST)}
DEFAULT_DATASET = MNIST.name


def get_dataset(name: str | None) -> Dataset:
    """The dataset called ``name`` (None: MNIST); a ValueError lists the known names."""
    key = DEFAULT_DATASET if name is None else str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def dataset_of(manifest: dict) -> Dataset:
    """The dataset a weights manifest was trained on (``dataset.name``; MNIST when absent)."""
    recorded = (manifest.get("dataset") or {}).get("name")
    if recorded is None:
        return DATASETS[DEFAULT_DATASET]
    for dataset in DATASETS.values():
        if str(recorded).lower() in (dataset.name, dataset.title.lower()):
            return dataset
    raise ValueError(f"the manifest names an unknown dataset {recorded!r}; "
                     f"known: {', '.join(DATASETS)}")
