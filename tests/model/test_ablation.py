"""model/ablation.py: a network with units switched off answers exactly as the same network with
those units' weights zeroed (fused and unfused, conv, pooling and dense units, through LRN and
padding), its attributions flow through the same mask, the shared network is never touched
(also with many threads at once), and the batched ranking equals one ablation at a time."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from model import build
from model.ablation import ablated, rank_units

TINY = {
    "simple_convnet": {"filter_num": 4, "hidden_size": 8},  # a fused conv-ReLU-pool block
    "alexnet": {"channels": [4, 4, 6, 6, 4], "hidden_size": 16},  # LRN, padded overlapping pools
    "lenet5": {"c1": 3, "c3": 4, "c5": 12, "f6": 10},  # tanh, average pooling
}


def net_of(arch, seed=0):
    net = build(arch, TINY[arch], rng=np.random.default_rng(seed))
    for key in net.params:  # non-zero biases: a switched-off unit is not already zero
        if key.endswith(".bias"):
            net.params[key] = np.random.default_rng(seed + 1).normal(
                0, 0.1, net.params[key].shape).astype(np.float32)
    net.freeze()
    return net


def images(n=5, seed=2):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def zeroed(net, layer, units):
    """A copy of ``net`` whose weights make ``units`` of ``layer`` output zero: a weighted
    unit's own weights and bias; a pooling channel's outgoing weights in the next weighted
    layer (nothing between them but the shape)."""
    clone = net.astype(np.float32)
    clone.params = {k: v.copy() for k, v in net.params.items()}
    names = [name for name, _ in net.layers]
    found = dict(net.layers)[layer]
    if found.role == "weighted":
        w = clone.params[f"{layer}.weight"]
        if w.ndim == 4:
            w[units] = 0
        else:
            w[:, units] = 0
        clone.params[f"{layer}.bias"][units] = 0
        return clone
    after = next(n for n in names[names.index(layer) + 1:]
                 if dict(net.layers)[n].role == "weighted")
    w = clone.params[f"{after}.weight"]
    if w.ndim == 4:
        w[:, units] = 0
    else:
        c, h, wd = net.shapes[layer]
        rows = w.reshape(c, h * wd, -1)
        rows[units] = 0
    return clone


CASES = [("simple_convnet", "conv1", [1, 3]), ("simple_convnet", "pool1", [0]),
         ("simple_convnet", "fc1", [2, 5, 7]), ("alexnet", "conv1", [0, 2]),
         ("alexnet", "pool2", [1]), ("alexnet", "conv5", [3]), ("alexnet", "pool3", [0, 3]),
         ("alexnet", "fc2", [4]), ("lenet5", "pool1", [2]), ("lenet5", "fc3", [7])]


@pytest.mark.parametrize("arch,layer,units", CASES)
def test_switching_units_off_equals_zeroing_their_weights(arch, layer, units):
    net = net_of(arch)
    x = images()
    view = ablated(net, {layer: units})
    reference = zeroed(net, layer, units)
    np.testing.assert_allclose(view.logits(x), reference.logits(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(view.forward(x, keep=True)[0], reference.logits(x), rtol=1e-5,
                               atol=1e-5)
    _, outputs = view.forward(x, keep=True)
    out = outputs[layer]
    assert np.all(out[:, units] == 0)
    assert np.any(net.forward(x, keep=True)[1][layer][:, units] != 0)  # not zero already


def test_attributions_go_through_the_switched_off_units_as_through_zeroed_weights():
    net = net_of("alexnet")
    x = images(2)
    view, reference = ablated(net, {"conv2": [1]}), zeroed(net, "conv2", [1])
    grads = []
    for candidate in (view, reference):
        logits, caches = candidate.forward_train(x)
        dout = np.zeros_like(logits)
        dout[:, 3] = 1
        grads.append(candidate.backward(caches, dout, input_grad=True)[1])
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_the_shared_network_is_never_changed():
    net = net_of("simple_convnet")
    before = ({k: v.copy() for k, v in net.params.items()}, list(net.layers),
              dict(net._fused), list(net._fused_steps))
    view = ablated(net, {"conv1": [0], "fc1": [1]})
    view.logits(images())
    assert {k: v for k, v in net.params.items()}.keys() == before[0].keys()
    for key, value in net.params.items():
        np.testing.assert_array_equal(value, before[0][key])
        assert view.params[key] is value  # shared, read-only, not copied
    assert net.layers == before[1] and net._fused == before[2]
    assert net._fused_steps == before[3] and len(net._fused) == 1 and not view._fused
    assert type(net.layers[0][1]).__name__ == "Convolution"


def test_many_threads_with_different_units_off_get_their_own_answers():
    net = net_of("alexnet")
    x = images(3)
    plans = [{"conv1": [i % 4]} if i % 3 == 0 else {"fc1": [i % 16], "pool1": [i % 4]}
             if i % 3 == 1 else {} for i in range(48)]
    serial = [ablated(net, plan).logits(x) for plan in plans]
    with ThreadPoolExecutor(16) as pool:
        parallel = list(pool.map(lambda plan: ablated(net, plan).logits(x), plans))
    for one, other in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(one, other)
    np.testing.assert_array_equal(ablated(net, {}).logits(x), net.logits(x))


@pytest.mark.parametrize("arch,layer", [("alexnet", "conv3"), ("alexnet", "fc1"),
                                        ("lenet5", "pool2"), ("simple_convnet", "conv1")])
def test_the_batched_ranking_equals_one_ablation_at_a_time(arch, layer):
    net = net_of(arch)
    x = images(1)
    ranked = rank_units(net, x, layer)
    base = net.predict(x)[0]
    np.testing.assert_allclose(ranked["probabilities"], base, rtol=1e-5, atol=1e-7)
    assert ranked["target"] == int(base.argmax())
    for unit in range(net.shapes[layer][0]):
        alone = ablated(net, {layer: [unit]}).predict(x)[0]
        np.testing.assert_allclose(ranked["without"][unit], alone, rtol=1e-4, atol=1e-6)
    target = ranked["target"]
    np.testing.assert_allclose(ranked["drop"], base[target] - ranked["without"][:, target],
                               rtol=1e-5, atol=1e-7)
    assert rank_units(net, x, layer, target=4)["target"] == 4


def test_unknown_layers_are_refused():
    net = net_of("lenet5")
    with pytest.raises(ValueError, match="unknown layer"):
        ablated(net, {"conv9": [0]})
    with pytest.raises(ValueError, match="unknown layer"):
        rank_units(net, images(1), "conv9")
