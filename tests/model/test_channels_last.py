"""The channels-last conv stages and chains against the layer-by-layer reference (itself checked
against naive loops) and against numerical gradients, in float64, over many geometries; the
networks that plan chains against their layer-by-layer passes."""

import numpy as np
import pytest
from gradcheck import assert_close_grad, numerical_grad

from model import build, channels_last
from model.ablation import ablated
from model.channels_last import (
    ChannelsLastChain,
    Stage,
    flipped_weight_matrix,
    im2col_nhwc,
    plan_chains,
)
from model.functional import im2col
from model.layers import Affine, AveragePooling, Convolution, Dropout, MaxPooling, ReLU, Tanh
from model.networks import FOLDED, Sequential

# (channels, filters, kernel, stride, pad, activation, pool (size, stride, pad) or None, H, W):
# 3×3 stride-1 convs (the flipped-kernel input gradient), strided and over-padded ones (col2im),
# tiling, ragged, padded and overlapping max pools, no activation, non-square inputs; LeNet's
# scaled tanh alone or with tiling average pools ("avg"), ragged too.
GEOMETRIES = [(3, 4, 3, 1, 1, "relu", (2, 2, 0), 8, 8), (2, 3, 3, 1, 1, "relu", None, 7, 9),
              (3, 2, 3, 1, 1, "relu", (2, 2, 1), 7, 7), (2, 3, 3, 1, 1, "relu", (3, 2, 1), 9, 8),
              (1, 3, 5, 1, 2, "relu", (2, 2, 0), 9, 10), (2, 2, 3, 2, 1, "relu", (2, 2, 0), 11, 9),
              (2, 3, 2, 1, 0, None, (2, 2, 0), 9, 7), (2, 2, 3, 1, 3, "relu", None, 5, 6),
              (3, 3, 1, 1, 0, "relu", (3, 3, 0), 8, 7), (1, 3, 5, 1, 2, "tanh", "avg", 8, 8),
              (3, 2, 5, 1, 0, "tanh", "avg", 11, 10), (2, 3, 3, 1, 1, "tanh", None, 6, 7)]

# im2col chunks of this many bytes hold one to three images above: ragged last chunks included.
SMALL_CHUNK = 2000


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def nchw(x):
    return x.transpose(0, 3, 1, 2)


def setup(geometry, n=5, seed=0):
    c, f, k, s, pad, act, pool, h, w = geometry
    rng = np.random.default_rng(seed)
    act = {"relu": ReLU(), "tanh": Tanh(1.7159, 2 / 3), None: None}[act]
    pool = AveragePooling(2) if pool == "avg" else None if pool is None else MaxPooling(*pool)
    layers = [layer for layer in (Convolution(f, k, s, pad), act, pool) if layer is not None]
    params = {"weight": rng.standard_normal((f, c, k, k)), "bias": rng.standard_normal(f) * 0.3}
    x = rng.standard_normal((n, c, h, w))
    stage = Stage(layers[0], act, pool, SMALL_CHUNK)
    return layers, stage, params, x


def layered(layers, params, x):
    caches = []
    for layer in layers:
        x, cache = layer.forward(params if layer is layers[0] else {}, x, train=True)
        caches.append(cache)

    def backward(dout):
        grads = {}
        for layer, cache in zip(layers[::-1], caches[::-1], strict=True):
            dout, local = layer.backward(params if layer is layers[0] else {}, cache, dout)
            grads.update(local)
        return dout, grads
    return x, backward


@pytest.mark.parametrize("channels", [3, 1])  # one channel is built from shifted planes
def test_im2col_nhwc_is_im2col_with_channels_last(channels):
    x = np.random.default_rng(1).standard_normal((2, channels, 6, 7))
    for k, s, pad in [(3, 1, 1), (2, 2, 0), (3, 2, 2)]:
        got = im2col_nhwc(nhwc(x), k, k, s, pad)  # columns (ky, kx, c)
        want = im2col(x, k, k, s, pad)  # columns (c, ky, kx)
        rows = want.shape[0]
        assert np.array_equal(got, want.reshape(rows, channels, k, k).transpose(0, 2, 3, 1)
                              .reshape(rows, -1))


def test_flipped_weight_matrix_turns_the_kernel_and_swaps_channels():
    weight = np.arange(2 * 3 * 3 * 3, dtype=float).reshape(2, 3, 3, 3)
    got = flipped_weight_matrix(weight).reshape(3, 3, 2, 3)  # (ky, kx, f, c)
    for f, c, ky, kx in np.ndindex(2, 3, 3, 3):
        assert got[ky, kx, f, c] == weight[f, c, 2 - ky, 2 - kx]


@pytest.mark.parametrize("shifted", [True, False])  # 'same' convs' weight gradient both ways
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_stage_equals_the_layers_forward_and_backward(geometry, shifted, monkeypatch):
    if not shifted:
        monkeypatch.setattr(channels_last, "SHIFTED_MAX_CHANNELS", 0)
    layers, stage, params, x = setup(geometry)
    ref, ref_backward = layered(layers, params, x)
    out, cache = stage.forward(params, nhwc(x), train=True)
    assert out.flags.c_contiguous
    np.testing.assert_allclose(nchw(out), ref, rtol=1e-12, atol=1e-12)
    inference, none = stage.forward(params, nhwc(x))
    assert none is None and np.array_equal(inference, out)
    dout = np.random.default_rng(3).standard_normal(ref.shape)
    dx, grads = stage.backward(params, cache, nhwc(dout))
    ref_dx, ref_grads = ref_backward(dout)
    np.testing.assert_allclose(nchw(dx), ref_dx, rtol=1e-11, atol=1e-12)
    for key in ("weight", "bias"):
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-11, atol=1e-12)
    assert stage.backward(params, cache, nhwc(dout), need_dx=False)[0] is None


def test_ties_send_the_gradient_to_the_first_maximum_like_max_pooling():
    """Blank regions make exact ties (every window gives the bias): both paths pick the first."""
    layers, stage, params, _ = setup(GEOMETRIES[0])
    x = np.zeros((2, 3, 8, 8))
    x[:, :, 3:6, 2:7] = np.random.default_rng(4).standard_normal((2, 3, 3, 5))
    params["bias"] = np.abs(params["bias"]) + 0.1  # tied maxima above zero: gradient flows
    ref, ref_backward = layered(layers, params, x)
    out, cache = stage.forward(params, nhwc(x), train=True)
    dout = np.random.default_rng(5).standard_normal(ref.shape)
    dx, grads = stage.backward(params, cache, nhwc(dout))
    ref_dx, ref_grads = ref_backward(dout)
    np.testing.assert_allclose(nchw(dx), ref_dx, atol=1e-12)
    np.testing.assert_allclose(grads["weight"], ref_grads["weight"], atol=1e-12)


def test_chain_gradients_against_centred_differences():
    """Two stages, the second with a padded pool: every parameter and the input."""
    rng = np.random.default_rng(6)
    conv1, conv2 = Convolution(3, 3, 1, 1), Convolution(2, 3, 1, 1)
    chain = ChannelsLastChain([("conv1", Stage(conv1, ReLU(), None, SMALL_CHUNK)),
                               ("conv2", Stage(conv2, ReLU(), MaxPooling(2, 2, 1), SMALL_CHUNK))],
                              span=5)
    params = [{"weight": rng.standard_normal((3, 2, 3, 3)), "bias": rng.standard_normal(3) * .3},
              {"weight": rng.standard_normal((2, 3, 3, 3)), "bias": rng.standard_normal(2) * .3}]
    x = rng.standard_normal((2, 2, 5, 5))
    out, cache = chain.forward(params, x, train=True)
    assert out.shape == (2, 2, 3, 3) and out.flags.c_contiguous
    dout = rng.standard_normal(out.shape)

    def loss():
        return float(np.sum(chain.forward(params, x)[0] * dout))

    dx, grads = chain.backward(params, cache, dout)
    for p, g in zip(params, grads, strict=True):
        for key in ("weight", "bias"):
            assert_close_grad(g[key], numerical_grad(loss, p[key]))
    assert_close_grad(dx, numerical_grad(loss, x))
    assert chain.backward(params, cache, dout, need_dx=False)[0] is None


def test_chains_are_runs_of_two_or_more_convolutions_of_exact_types():
    class Masked(Convolution):
        pass

    layers = [("c1", Convolution(2, 3)), ("r1", ReLU()), ("c2", Convolution(2, 3)),
              ("p1", MaxPooling(2)), ("t", Tanh()), ("c3", Convolution(2, 3)), ("r3", ReLU()),
              ("c4", Masked(2, 3)), ("c5", Convolution(2, 3)), ("c6", Convolution(2, 3)),
              ("d", Dropout()), ("fc", Affine(3))]
    chains = plan_chains(layers, skip=set())
    assert {i: (c.names, c.span) for i, c in chains.items()} == {
        0: (["c1", "c2"], 4), 8: (["c5", "c6"], 2)}
    assert [s.relu for s in chains[0].stages] == [True, False]
    assert chains[0].stages[1].pool is layers[3][1]
    assert list(plan_chains(layers, skip={2})) == [8]  # c1 alone is no chain
    lecun = [("c1", Convolution(2, 3)), ("t1", Tanh()), ("a1", AveragePooling(2)),
             ("c2", Convolution(2, 3)), ("t2", Tanh()), ("m2", MaxPooling(2)),
             ("c3", Convolution(2, 3)), ("a3", AveragePooling(2))]
    (chain,) = plan_chains(lecun, skip=set()).values()  # a max pool after a tanh ends the run
    assert chain.names == ["c1", "c2"] and chain.span == 5 and chain.stages[1].pool is None
    assert list(plan_chains(lecun[5:], skip=set())) == []  # an average pool needs a tanh
    with pytest.raises(ValueError, match="max pool"):
        Stage(Convolution(2, 3), Tanh(), MaxPooling(2))
    with pytest.raises(ValueError, match="average pools"):
        Stage(Convolution(2, 3), ReLU(), AveragePooling(2))
    with pytest.raises(ValueError, match="average pools"):
        Stage(Convolution(2, 3), Tanh(), AveragePooling(3, 2))


def small_deep_convnet() -> Sequential:
    net = build("deep_convnet", {"input_shape": [1, 12, 12], "channels": [2, 3, 3, 4, 4, 3],
                                 "hidden_size": 6}, rng=np.random.default_rng(7))
    net = net.astype(np.float64)
    rng = np.random.default_rng(8)
    for key in net.params:
        if key.endswith(".bias"):
            net.params[key] = rng.standard_normal(net.params[key].shape) * 0.1
    return net


@pytest.mark.parametrize("arch", ["deep_convnet", "alexnet", "lenet5"])
def test_networks_give_the_same_answers_with_chains_and_layer_by_layer(arch):
    if arch == "deep_convnet":
        net, chained = small_deep_convnet(), ["conv1", "conv2", "conv3", "conv4", "conv5",
                                              "conv6"]
    elif arch == "lenet5":  # scaled tanh and average pooling
        net = build("lenet5", {"c1": 2, "c3": 3, "c5": 8, "f6": 6},
                    rng=np.random.default_rng(7)).astype(np.float64)
        chained = ["conv1", "conv2"]
    else:  # conv3 → conv5 and pool3 (overlapping, padded); conv1 and conv2 end at LRN
        net = build("alexnet", {"input_shape": [1, 12, 12], "channels": [2, 3, 3, 2, 2],
                                "hidden_size": 5}, rng=np.random.default_rng(7)).astype(np.float64)
        chained = ["conv3", "conv4", "conv5"]
    steps = [step for _, step in net._fused_steps if isinstance(step, ChannelsLastChain)]
    assert [step.names for step in steps] == [chained]
    rng = np.random.default_rng(9)
    x = rng.random((7, *net.input_shape))
    labels = rng.integers(0, 10, 7)
    np.testing.assert_allclose(net.forward(x)[0], net.forward(x, keep=True)[0], rtol=1e-10,
                               atol=1e-12)
    _, fused_grads, _ = net.loss_and_grads(x, labels, rng=np.random.default_rng(1))
    logits, caches = net.forward_train(x, rng=np.random.default_rng(1))
    _, lcache = net.loss_layer.forward(logits, labels)
    grads, _ = net.backward(caches, net.loss_layer.backward(lcache))
    for key in net.params:
        np.testing.assert_allclose(fused_grads[key], grads[key], rtol=1e-9, atol=1e-12)
    _, caches = net.forward_train(x, fuse=True)
    assert sum(cache is FOLDED for cache in caches) == steps[0].span - 1


def test_an_ablated_layer_leaves_the_chain_and_the_answers_follow_the_reference():
    net = small_deep_convnet()
    view = ablated(net, {"conv3": [2]})
    chains = [step.names for _, step in view._fused_steps if isinstance(step, ChannelsLastChain)]
    assert chains == [["conv1", "conv2"], ["conv4", "conv5", "conv6"]]
    x = np.random.default_rng(10).random((3, *net.input_shape))
    np.testing.assert_allclose(view.forward(x)[0], view.forward(x, keep=True)[0], rtol=1e-10,
                               atol=1e-12)
    assert np.abs(view.forward(x)[0] - net.forward(x)[0]).max() > 1e-3


def test_a_frozen_network_serves_chains_from_many_threads_at_once():
    """Chains keep nothing per call: concurrent passes over read-only weights equal serial ones."""
    from concurrent.futures import ThreadPoolExecutor

    net = small_deep_convnet().astype(np.float32)
    net.freeze()
    rng = np.random.default_rng(11)
    inputs = [rng.random((int(rng.integers(1, 9)), *net.input_shape), dtype=np.float32)
              for _ in range(24)]
    serial = [net.forward(x)[0] for x in inputs]
    with ThreadPoolExecutor(6) as pool:
        for got, want in zip(pool.map(lambda x: net.forward(x)[0], inputs), serial, strict=True):
            np.testing.assert_array_equal(got, want)
