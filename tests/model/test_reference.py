"""The reference set (model/reference.py): its PCA against NumPy's SVD, exact members, the int8
grid, strict loading; and the shipped simple_convnet's atypical flag on a fixed generated set."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from model.data import load_mnist, to_float
from model.features import features
from model.inputs import fit_input, round_input
from model.oddities import non_digits, redrawn_digits
from model.reference import Reference, build, load, normalised, reference_path, save
from model.weights import WeightsError, default_weights_dir, load_checked

SHA = "0" * 64


@pytest.fixture(scope="module")
def made():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 24)) * 3
    labels = rng.integers(0, 10, 3000)
    feats = np.maximum(centres[labels] + rng.normal(size=(3000, 24)), 0).astype(np.float32)
    arrays = build(feats, labels, [feats[:50] + 0.3], np.arange(100), "fc1", SHA,
                   dimensions=8, map_points=500)
    return feats, labels, arrays


def test_the_map_is_numpys_svd_of_the_unit_features(made):
    feats, _, arrays = made
    unit = normalised(feats).astype(np.float64)
    centred = unit - unit.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    ref = Reference.from_arrays(arrays)
    for axis in range(2):  # same axis up to sign
        assert abs(abs(np.dot(vt[axis], ref.components[axis])) - 1) < 1e-4
    expected = centred[ref.map_indices] @ vt[:2].T
    got = ref.map_points().astype(np.float64)
    signs = np.sign(np.sum(expected * got, axis=0))
    step = arrays["scale"][:2]  # the int8 grid
    assert np.all(np.abs(expected * signs - got) <= step / 2 + 1e-5)
    assert np.allclose(ref.position(feats[7]), (centred[7] @ vt[:2].T) * signs, atol=1e-5)


def test_members_are_found_at_distance_zero_and_ranked_by_distance(made):
    feats, _, arrays = made
    ref = Reference.from_arrays(arrays)
    for i in (0, 1234, 2999):
        found, distances = ref.nearest(ref.locate(feats[i]), 20)
        assert distances[0] == 0.0 and np.array_equal(ref.points[found[0]], ref.points[i])
        assert np.all(np.diff(distances) >= 0)
        brute = np.sqrt(((ref.points - ref.locate(feats[i])) ** 2).sum(axis=1))
        assert np.allclose(np.sort(brute)[:20], distances, atol=1e-5)
    assert np.allclose(ref.scores(ref.points[:30], np.arange(30)),
                       [ref.score(ref.points[i], exclude=i) for i in range(30)], atol=1e-4)


def test_the_threshold_is_the_calibration_quantile(made):
    feats, _, arrays = made
    ref = Reference.from_arrays(arrays)
    scores = np.concatenate([[ref.score(ref.points[i], exclude=i) for i in range(100)],
                             [ref.score(ref.locate(f)) for f in feats[:50] + 0.3]])
    assert abs(ref.threshold - np.quantile(scores, 0.97)) < 1e-4


def test_a_damaged_file_is_refused(made, tmp_path):
    _, _, arrays = made
    path = save(tmp_path / "x.neighbors.npz", {**arrays, "labels": arrays["labels"][:-1]})
    with pytest.raises(WeightsError, match="labels has shape"):
        load(path)
    path = save(tmp_path / "y.neighbors.npz", {**arrays, "rank": np.int64(0)})
    with pytest.raises(WeightsError, match="rank"):
        load(path)


def test_queries_from_many_threads_answer_as_one_does(made):
    feats, _, arrays = made
    ref = Reference.from_arrays(arrays)
    alone = [ref.nearest(ref.locate(f), 9) for f in feats[:64]]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda f: ref.nearest(ref.locate(f), 9), feats[:64]))
    for (a, da), (b, db) in zip(alone, together, strict=True):
        assert np.array_equal(a, b) and np.array_equal(da, db)


def test_simple_convnet_flags_generated_non_digits_and_not_digits():
    """A fixed generated set: 100 test digits as stored, 60 redrawn on the pad, 12 non-digits of
    each kind; the goals are ≤ 5 % of digits and ≥ 80 % of non-digits flagged."""
    json_path = default_weights_dir() / "simple_convnet.json"
    net, _, _ = load_checked(json_path)
    ref = load(reference_path(json_path))
    test = load_mnist(check=False)[0]["test_images"]

    def rate(images):
        f = features(net, fit_input(round_input(images), net.input_shape))
        return np.mean([ref.score(ref.locate(x)) > ref.threshold for x in f])

    assert rate(to_float(test[:100])[:, 0]) <= 0.05
    assert rate(redrawn_digits(test[100:160], seed=5)) <= 0.05
    others = non_digits(12, seed=6)
    assert rate(np.concatenate(list(others.values()))) >= 0.8
