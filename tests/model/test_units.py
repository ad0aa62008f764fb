"""model/units.py, receptive.py and maximise.py on tiny networks: the top 9 of every unit against
a brute-force pass image by image, receptive fields against the windows composed cell by cell
(padded, strided and overlapping layers), ideal inputs that beat every test image, and a units
file that refuses to load when anything in it is off."""

import numpy as np
import pytest

from model import build, save
from model.maximise import SOURCES, AscentConfig, maximise, unit_scores
from model.receptive import receptive_span
from model.testset import as_input, load_test_set
from model.units import (
    QUANTILES,
    TOP,
    describe_units,
    ideal_from,
    is_spatial,
    load_units,
    save_units,
    unit_layers,
    units_path,
)
from model.weights import WeightsError, attach, attached, read_manifest

TINY = {
    "lenet5": {"c1": 3, "c3": 4, "c5": 12, "f6": 10},  # padded conv1, average pooling, tanh
    "alexnet": {"channels": [4, 4, 6, 6, 4], "hidden_size": 16},  # 3×3/2 pooling padded by 1
}
FAST = AscentConfig(steps=40, polish=20)
SHORT = AscentConfig(steps=8, polish=4)  # for every unit of every layer: enough to climb
IMAGES = 300


@pytest.fixture(scope="module", params=sorted(TINY))
def described(request):
    net = build(request.param, TINY[request.param], rng=np.random.default_rng(3))
    x = as_input(net, load_test_set().images[:IMAGES])
    arrays = describe_units(net, x, "0" * 64, "mnist", batch_size=64, threads=2, config=FAST)
    return net, x, arrays


def test_top_nine_of_every_unit_equal_a_brute_force_pass(described):
    net, x, arrays = described
    _, outputs = net.forward(x, keep=True)
    for layer in unit_layers(net):
        out = outputs[layer]
        for unit in range(net.shapes[layer][0]):
            if is_spatial(net, layer):
                maps = out[:, unit].reshape(len(x), -1)
                values = [float(row.max()) for row in maps]
                where = [divmod(int(row.argmax()), net.shapes[layer][2]) for row in maps]
            else:
                values = [float(v) for v in out[:, unit]]
            ranked = sorted(range(len(x)), key=lambda i: (-values[i], i))[:TOP]
            got = arrays[f"{layer}.top_index"][unit].tolist()
            # equal up to ties that a GEMM's rounding may order differently
            np.testing.assert_allclose(arrays[f"{layer}.top_score"][unit],
                                       [values[i] for i in ranked], rtol=1e-5, atol=1e-6)
            assert [values[i] for i in got] == pytest.approx([values[i] for i in ranked],
                                                             rel=1e-5, abs=1e-6), (layer, unit)
            assert got[:3] == ranked[:3] or len(set(np.round(values, 4))) < len(values)
            if is_spatial(net, layer):
                positions = arrays[f"{layer}.top_position"][unit].tolist()
                assert [tuple(p) for p in positions] == [where[i] for i in got], (layer, unit)
            q = arrays[f"{layer}.quantiles"][unit]
            assert q.shape == (QUANTILES,)
            assert q[0] == pytest.approx(min(values), rel=1e-5, abs=1e-6)
            assert q[50] == pytest.approx(float(np.median(values)), rel=1e-4, abs=1e-5)
            assert q[-1] == arrays[f"{layer}.top_score"][unit, 0]


def _cells(net, layer_index, y, x):
    """Input cells (row, col) unit (y, x) of layer ``layer_index`` reads, composed window by
    window, cell by cell (padding cells included)."""
    cells = {(y, x)}
    for _, layer in reversed(net.layers[:layer_index + 1]):
        window = layer.window()
        if window is None:
            continue
        k, s, p = window["kernel"], window["stride"], window["padding"]
        cells = {(cy * s - p + dy, cx * s - p + dx) for cy, cx in cells
                 for dy in range(k) for dx in range(k)}
    return cells


@pytest.mark.parametrize("arch,config", [
    ("lenet5", TINY["lenet5"]), ("alexnet", TINY["alexnet"]),
    ("deep_convnet", {"channels": [2, 2, 2, 2, 2, 2], "hidden_size": 4}),
    ("simple_convnet", {"filter_num": 2, "hidden_size": 4, "pad": 2, "stride": 3}),
])
def test_receptive_fields_equal_the_windows_composed_cell_by_cell(arch, config):
    net = build(arch, config)
    names = [name for name, _ in net.layers]
    for layer in names:
        if len(net.shapes[layer]) != 3:
            continue
        _, h, w = net.shapes[layer]
        for y in sorted({0, h // 2, h - 1}):
            for x in sorted({0, w // 2, w - 1}):
                cells = _cells(net, names.index(layer), y, x)
                rows = [r for r, _ in cells]
                cols = [c for _, c in cells]
                expected = (min(rows), min(cols), max(rows) + 1, max(cols) + 1)
                assert receptive_span(net, layer, y, x) == expected, (arch, layer, y, x)
                # a full rectangle: every cell inside the span is read
                assert len(cells) == (expected[2] - expected[0]) * (expected[3] - expected[1])


def test_receptive_field_of_a_padded_corner_reaches_past_the_border():
    net = build("alexnet", TINY["alexnet"])
    # conv1 3×3 pad 1: the corner unit reads rows -1..1
    assert receptive_span(net, "conv1", 0, 0) == (-1, -1, 2, 2)
    # pool1 3×3 stride 2 pad 1 over conv1: rows (0·2 − 1) − 1 .. (0·2 − 1 + 2) + 1
    assert receptive_span(net, "pool1", 0, 0) == (-2, -2, 3, 3)
    assert receptive_span(net, "pool1", 1, 2) == (0, 2, 5, 7)
    with pytest.raises(ValueError, match="no spatial positions"):
        receptive_span(net, "fc1", 0, 0)


def test_ideal_inputs_beat_every_test_image_and_are_seeded(described):
    net, x, arrays = described
    for layer in arrays["optimal_layers"]:
        layer = str(layer)
        images = arrays[f"{layer}.optimal"]
        assert images.min() >= 0 and images.max() <= 1
        best = arrays[f"{layer}.top_score"][:, 0]
        score = arrays[f"{layer}.optimal_score"]
        assert np.all(score >= best), (layer, score, best)
        units = np.arange(net.shapes[layer][0])
        again = unit_scores(net, layer, images[:, None], units)
        np.testing.assert_allclose(again, score, rtol=1e-5, atol=1e-6)
        # one unit alone gets the image it got in the batch (its own random streams)
        alone, alone_score, alone_from = ideal_from(net, arrays, layer, units[-1:],
                                                    x[arrays[f"{layer}.top_index"][-1:, 0]], FAST)
        np.testing.assert_allclose(alone[0, 0], images[-1], atol=1e-4)
        assert alone_score[0] == pytest.approx(float(score[-1]), rel=1e-4, abs=1e-5)
        assert alone_from[0] == arrays[f"{layer}.optimal_from"][-1]


def test_every_units_ideal_input_beats_its_best_test_image_and_says_where_it_came_from(
        described):
    """Every layer, every unit (not only the shipped layers): the best of the two ascents and the
    best test image; each candidate's claim checked by scoring it again."""
    net, x, arrays = described
    seen = set()
    for layer in unit_layers(net):
        units = np.arange(net.shapes[layer][0])
        top = arrays[f"{layer}.top_index"][:, 0]
        images, score, sources = ideal_from(net, arrays, layer, units, x[top], SHORT)
        best = arrays[f"{layer}.top_score"][:, 0]
        assert np.all(score >= best), (layer, score - best)
        assert images.shape == (len(units), *net.input_shape)
        assert images.min() >= 0 and images.max() <= 1
        seen.update(SOURCES[s] for s in sources)
        digit = sources == SOURCES.index("the best test image")
        np.testing.assert_array_equal(images[digit], x[top[digit]])
        np.testing.assert_array_equal(score[digit], best[digit])
        again = unit_scores(net, layer, images[~digit], units[~digit])
        np.testing.assert_allclose(again, score[~digit], rtol=1e-5, atol=1e-6)
        # the noise candidate is maximise's own ascent
        noise = sources == SOURCES.index("ascent from noise")
        if noise.any():
            _, alone = maximise(net, layer, units[noise], SHORT)
            np.testing.assert_allclose(alone, score[noise], rtol=1e-4, atol=1e-5)
    # the ascent from the best test image wins somewhere on these untrained networks
    assert "ascent from the best test image" in seen, seen


def test_a_conv1_unit_reaches_its_exact_optimum():
    """A first-layer unit is linear in its window: the best input in [0, 1] is ink where the
    kernel is positive, so its value is the sum of the positive weights plus the bias."""
    net = build("simple_convnet", {"filter_num": 3, "hidden_size": 4},
                rng=np.random.default_rng(5))
    _, score = maximise(net, "conv1", [0, 1, 2])
    w, b = net.params["conv1.weight"], net.params["conv1.bias"]
    best = np.clip(w, 0, None).reshape(3, -1).sum(axis=1) + b
    np.testing.assert_allclose(score, best, rtol=1e-5)


def _written(tmp_path, described):
    net, _, arrays = described
    json_path = save(net, tmp_path, "m")
    arrays = {**arrays, "weights_sha256": np.array(read_manifest(json_path)["sha256"])}
    path = save_units(units_path(json_path), arrays)
    attach(json_path, "units", path)
    return net, json_path, path, arrays


def test_units_file_round_trips_and_is_checksummed(tmp_path, described):
    net, json_path, path, arrays = _written(tmp_path, described)
    assert attached(json_path, read_manifest(json_path), "units") == path
    loaded = load_units(path, net)
    assert loaded["layers"] == unit_layers(net)
    for key, value in arrays.items():
        if key not in ("layers", "optimal_layers"):
            np.testing.assert_array_equal(loaded[key], value)
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(WeightsError, match="checksum mismatch"):
        attached(json_path, read_manifest(json_path), "units")


def _broken(arrays, layer):
    unsorted = arrays[f"{layer}.top_score"].copy()
    unsorted[0, [0, 1]] = unsorted[0, [1, 0]] - [1.0, 0.0]
    outside = arrays[f"{layer}.top_index"].copy()
    outside[0, 0] = 10**6
    repeated = arrays[f"{layer}.top_index"].copy()
    repeated[0, 1] = repeated[0, 0]
    return [
        ({f"{layer}.top_score": unsorted}, "not sorted highest first"),
        ({f"{layer}.top_index": outside}, "outside 0.."),
        ({f"{layer}.top_index": repeated}, "repeats a test image"),
        ({f"{layer}.quantiles": arrays[f"{layer}.quantiles"][:, ::-1]}, "not non-decreasing"),
        ({"layers": np.array(["conv1"])}, "describes layers"),
        ({f"{layer}.top_score": arrays[f"{layer}.top_score"][:, :3]}, "has shape"),
        ({"extra": np.zeros(1)}, "unexpected key"),
        ({f"{layer}.optimal_from": arrays[f"{layer}.optimal_from"] + 3}, "sources outside"),
    ]


def test_units_file_refuses_anything_off(tmp_path, described):
    net, _, path, arrays = _written(tmp_path, described)
    layer = unit_layers(net)[0]
    for change, message in _broken(arrays, layer):
        bad = tmp_path / "bad.units.npz"
        save_units(bad, {**arrays, **change})
        with pytest.raises(WeightsError, match=message):
            load_units(bad, net)
    missing = {k: v for k, v in arrays.items() if k != f"{layer}.quantiles"}
    save_units(tmp_path / "bad.units.npz", missing)
    with pytest.raises(WeightsError, match="lacks"):
        load_units(tmp_path / "bad.units.npz", net)
    pickled = tmp_path / "pickled.units.npz"
    pickled.write_bytes(b"\x80\x04" + b"\0" * 32)
    with pytest.raises(WeightsError, match="pickle"):
        load_units(pickled, net)
