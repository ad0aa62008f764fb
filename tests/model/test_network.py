"""SimpleConvNet end to end: gradients of the whole loss, thread safety, learning."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from gradcheck import assert_close_grad, numerical_grad
from threadpoolctl import threadpool_info

from model import build
from model.networks import ARCHITECTURES
from model.optim import Adam


def small_net(**config):
    cfg = {"filter_num": 3, "filter_size": 3, "hidden_size": 6, **config}
    return build("simple_convnet", cfg, rng=np.random.default_rng(0)).astype(np.float64)


def test_default_simple_convnet_matches_the_book():
    net = build("simple_convnet")
    assert [name for name, _ in net.layers] == ["conv1", "relu1", "pool1", "fc1", "relu2", "fc2"]
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"conv1.weight": (30, 1, 5, 5), "conv1.bias": (30,),
                      "fc1.weight": (4320, 100), "fc1.bias": (100,),
                      "fc2.weight": (100, 10), "fc2.bias": (10,)}
    assert net.shapes["pool1"] == (30, 12, 12)
    assert all(v.dtype == np.float32 for v in net.params.values())
    # He init: std of conv1.weight ~ sqrt(2 / 25)
    assert abs(net.params["conv1.weight"].std() - np.sqrt(2 / 25)) < 0.05
    book = build("simple_convnet", {"weight_init": 0.01})
    assert abs(book.params["fc1.weight"].std() - 0.01) < 0.001


@pytest.mark.parametrize("config", [{}, {"pad": 1, "stride": 2, "filter_size": 4}])
def test_whole_network_loss_gradient(config):
    net = small_net(**config)
    rng = np.random.default_rng(1)
    x = rng.random((2, 1, 28, 28))
    t = np.array([3, 7])
    _, grads, _ = net.loss_and_grads(x, t)
    for key, value in net.params.items():
        numeric = numerical_grad(lambda: net.loss(x, t), value)
        assert_close_grad(grads[key], numeric, tol=1e-5)


def test_input_gradient_for_saliency():
    net = small_net(filter_size=5)
    rng = np.random.default_rng(2)
    x = rng.random((1, 1, 28, 28))
    logits, caches = net.forward_train(x)
    dout = np.zeros_like(logits)
    dout[0, 4] = 1.0
    _, dx = net.backward(caches, dout, input_grad=True)
    probe = x[:, :, 10:13, 10:13]  # a view: numerical_grad perturbs x through it
    numeric = numerical_grad(lambda: float(net.forward(x)[0][0, 4]), probe)
    assert_close_grad(dx[:, :, 10:13, 10:13], numeric, tol=1e-5)


def test_forward_keep_returns_every_layer_output():
    net = build("simple_convnet", rng=np.random.default_rng(0))
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    logits, outputs = net.forward(x, keep=True)
    assert list(outputs) == [name for name, _ in net.layers]
    for name, out in outputs.items():
        assert out.shape == (3, *net.shapes[name])
    np.testing.assert_array_equal(outputs["fc2"], logits)
    probs = net.predict(x)
    assert probs.shape == (3, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_rejects_wrong_shape():
    net = build("simple_convnet")
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, 28, 28\)"):
        net.predict(np.zeros((2, 28, 28)))


def test_concurrent_predict_equals_serial():
    net = build("simple_convnet", rng=np.random.default_rng(0))
    net.freeze()
    rng = np.random.default_rng(1)
    inputs = [rng.random((int(rng.integers(1, 5)), 1, 28, 28), dtype=np.float32) for _ in range(64)]
    serial = [net.forward(x, keep=True) for x in inputs]
    results = [None] * len(inputs)
    barrier = threading.Barrier(16)

    def worker(k):
        barrier.wait()
        for i in range(k, len(inputs), 16):
            for _ in range(3):
                results[i] = net.forward(inputs[i], keep=True)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (logits, outs), (s_logits, s_outs) in zip(results, serial, strict=True):
        np.testing.assert_array_equal(logits, s_logits)
        for name in s_outs:
            np.testing.assert_array_equal(outs[name], s_outs[name])


def test_concurrent_fused_forward_equals_serial():
    net = build("simple_convnet", rng=np.random.default_rng(0))
    net.freeze()
    rng = np.random.default_rng(2)
    inputs = [rng.random((int(rng.integers(1, 40)), 1, 28, 28), dtype=np.float32)
              for _ in range(32)]
    serial = [net.forward(x)[0] for x in inputs]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            for got, want in zip(pool.map(lambda x: net.forward(x)[0], inputs), serial,
                                 strict=True):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_logits_in_chunks_and_threads_equal_one_pass(threads):
    net = build("simple_convnet", rng=np.random.default_rng(0)).astype(np.float64)
    x = np.random.default_rng(3).random((237, 1, 28, 28))
    blas_before = threadpool_info()
    got = net.logits(x, batch_size=20, threads=threads)
    assert threadpool_info() == blas_before  # the one-thread BLAS limit was undone
    np.testing.assert_allclose(got, net.forward(x)[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.predict(x, batch_size=20, threads=threads).sum(axis=1), 1.0)
    assert net.logits(x[:0], threads=threads).shape == (0, 10)


def test_frozen_weights_cannot_be_written():
    net = build("simple_convnet")
    net.freeze()
    with pytest.raises(ValueError):
        net.params["conv1.weight"][0, 0, 0, 0] = 1.0


def test_training_on_a_synthetic_task_reduces_loss():
    rng = np.random.default_rng(0)
    # class = which quadrant holds a bright blob
    n = 200
    labels = rng.integers(0, 4, n)
    x = rng.random((n, 1, 28, 28), dtype=np.float32) * 0.1
    for i, c in enumerate(labels):
        y0, x0 = (c // 2) * 14 + 3, (c % 2) * 14 + 3
        x[i, 0, y0:y0 + 8, x0:x0 + 8] += 1.0
    net = build("simple_convnet", {"filter_num": 4, "hidden_size": 16, "output_size": 4},
                rng=np.random.default_rng(1))
    opt = Adam(lr=0.01)
    first = net.loss(x, labels)
    for _ in range(30):
        batch = rng.choice(n, 20, replace=False)
        _, grads, _ = net.loss_and_grads(x[batch], labels[batch])
        opt.step(net.params, grads)
    assert net.loss(x, labels) < 0.5 * first
    assert (net.predict(x).argmax(axis=1) == labels).mean() > 0.9


def test_registry_rejects_unknown_names():
    assert "simple_convnet" in ARCHITECTURES
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        build("nope")


@pytest.mark.parametrize("arch", ["simple_convnet", "deep_convnet"])
def test_batch_split_over_threads_gives_the_same_loss_and_gradient(arch):
    net = build(arch, rng=np.random.default_rng(0)).astype(np.float64)
    rng = np.random.default_rng(4)
    x = rng.random((11, 1, 28, 28))
    labels = rng.integers(0, 10, 11)
    loss, grads, logits = net.loss_and_grads(x, labels)
    for threads in (2, 3):
        split_loss, split_grads, split_logits = net.loss_and_grads(x, labels, threads=threads)
        assert split_loss == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(split_logits, logits, rtol=1e-12)
        assert set(split_grads) == set(grads)
        for key in grads:
            assert split_grads[key].dtype == grads[key].dtype
            np.testing.assert_allclose(split_grads[key], grads[key], rtol=1e-9, atol=1e-15)


def test_split_batches_draw_dropout_masks_reproducibly():
    net = build("deep_convnet", rng=np.random.default_rng(0))
    x = np.random.default_rng(5).random((8, 1, 28, 28), dtype=np.float32)
    labels = np.arange(8)
    first = net.loss_and_grads(x, labels, rng=np.random.default_rng(9), threads=2)
    again = net.loss_and_grads(x, labels, rng=np.random.default_rng(9), threads=2)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1]["fc1.weight"], again[1]["fc1.weight"])
