"""Convolutional layers and the CNN builder, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet

from conftest import synthetic

pytestmark = pytest.mark.skipif("sn_model_create_cnn" in smallnet._lib.MISSING, reason="the library has no CNNs")


def np_conv2d(x, w, b, stride, padding):
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + (0 if b is None else b[None, :, None, None])


def np_pool(x, k, stride, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * stride : i * stride + k, j * stride : j * stride + k], axis=(2, 3))
    return out


def np_batchnorm2d(x, s, prefix, eps=1e-5):
    shape = (1, -1, 1, 1)
    return ((x - s[f"{prefix}.running_mean"].reshape(shape)) / np.sqrt(s[f"{prefix}.running_var"].reshape(shape) + eps)
            * s[f"{prefix}.weight"].reshape(shape) + s[f"{prefix}.bias"].reshape(shape))


@pytest.fixture
def conv_model():
    """Conv(3→4, 3×3, pad 1) → ReLU → MaxPool(2) → BatchNorm2d → AvgPool(2, stride 1) →
    Conv(4→5, 2×2, stride 2, no bias) → GlobalAvgPool → Linear(5→3), input (3, 10, 10)."""
    model = (smallnet.Model((3, 10, 10))
             .add_conv2d(4, 3, padding=1, seed=1).add_relu().add_maxpool2d(2).add_batchnorm2d()
             .add_avgpool2d(2, stride=1).add_conv2d(5, 2, stride=2, bias=False, seed=2).add_globalavgpool2d()
             .add_linear(3, seed=3))
    rng = np.random.default_rng(0)
    for info in model.tensor_info():
        name = info["name"]
        if name.endswith("num_batches_tracked"):
            continue
        value = rng.uniform(0.5, 2.0, info["shape"]) if name.endswith("running_var") else rng.normal(0, 0.5, info["shape"])
        model.set_tensor(name, value)
    yield model
    model.close()


def np_forward(s, x):
    h = np.maximum(np_conv2d(x.astype(np.float64), s["0.weight"], s["0.bias"], 1, 1), 0)
    h = np_pool(h, 2, 2, np.max)
    h = np_batchnorm2d(h, s, "3")
    h = np_pool(h, 2, 1, np.mean)
    h = np_conv2d(h, s["5.weight"], None, 2, 0)
    h = h.mean(axis=(2, 3))
    return h @ s["7.weight"].T + s["7.bias"]


def test_layers_shapes_and_names(conv_model):
    layers = conv_model.layers
    assert [layer["kind"] for layer in layers] == ["Conv2d", "ReLU", "MaxPool2d", "BatchNorm2d", "AvgPool2d",
                                                    "Conv2d", "GlobalAvgPool2d", "Linear"]
    assert [layer["output_shape"] for layer in layers] == [(4, 10, 10), (4, 10, 10), (4, 5, 5), (4, 5, 5),
                                                            (4, 4, 4), (5, 2, 2), (5,), (3,)]
    assert [layer["n_params"] for layer in layers] == [4 * 27 + 4, 0, 0, 8, 0, 5 * 4 * 4, 0, 18]
    names = [info["name"] for info in conv_model.tensor_info()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias", "3.running_mean", "3.running_var",
                     "3.num_batches_tracked", "5.weight", "7.weight", "7.bias"]
    assert conv_model.state_dict()["0.weight"].shape == (4, 3, 3, 3)


def test_forward_matches_numpy(conv_model):
    conv_model.eval()
    x = np.random.default_rng(1).normal(size=(6, 3, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(conv_model(x), np_forward(conv_model.state_dict(), x), rtol=1e-4, atol=1e-5)


def np_loss(s, x, labels):
    logits = np_forward(s, x)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def test_backward_matches_numerical_gradients(conv_model):
    """Every gradient from backward against central differences of the float64 numpy model
    (eval mode: fixed statistics, so the loss is a function of the weights alone)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3, 10, 10)).astype(np.float32)
    labels = rng.integers(0, 3, size=4)
    conv_model.eval()
    conv_model.zero_grad()
    _, dlogits = smallnet.cross_entropy(conv_model(x), labels)
    conv_model.backward(dlogits)
    s = {k: v.astype(np.float64) for k, v in conv_model.state_dict().items()}
    for name in ("0.weight", "0.bias", "3.weight", "3.bias", "5.weight", "7.weight", "7.bias"):
        grad = conv_model.grad(name)
        numeric = np.zeros(grad.size)
        base = s[name]
        for i in range(grad.size):
            for sign in (1, -1):
                shifted = base.copy().reshape(-1)
                shifted[i] += sign * 1e-5
                s[name] = shifted.reshape(base.shape)
                numeric[i] += sign * np_loss(s, x, labels) / 2e-5
        s[name] = base
        np.testing.assert_allclose(grad.reshape(-1), numeric, rtol=1e-3, atol=1e-5, err_msg=name)


def test_batchnorm2d_running_statistics():
    with smallnet.Model((3, 4, 4)).add_batchnorm2d(momentum=0.2) as model:
        x = np.random.default_rng(3).normal(2.0, 3.0, size=(5, 3, 4, 4)).astype(np.float32)
        model.train()
        y = model(x)
        assert y.shape == (5, 3, 4, 4)
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        np.testing.assert_allclose(y, (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5),
                                   rtol=1e-4, atol=1e-4)
        state = model.state_dict()
        np.testing.assert_allclose(state["0.running_mean"], 0.2 * mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(state["0.running_var"], 0.8 + 0.2 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-4)


@pytest.mark.parametrize(
    "build, error",
    [
        (lambda m: m.add_conv2d(4, 0), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(4, 16), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(4, 3, stride=0), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(4, 3, padding=3), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(4, 3, padding=-1), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(0, 3), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(4, 3, init="glorot"), smallnet.InvalidArgumentError),
        (lambda m: m.add_conv2d(4, 7), smallnet.ShapeMismatchError),
        (lambda m: m.add_flatten().add_conv2d(4, 3), smallnet.ShapeMismatchError),
        (lambda m: m.add_flatten().add_batchnorm2d(), smallnet.ShapeMismatchError),
        (lambda m: m.add_flatten().add_globalavgpool2d(), smallnet.ShapeMismatchError),
        (lambda m: m.add_maxpool2d(0), smallnet.InvalidArgumentError),
        (lambda m: m.add_avgpool2d(2, stride=-1), smallnet.InvalidArgumentError),
        (lambda m: m.add_batchnorm2d(eps=0), smallnet.InvalidArgumentError),
    ],
)
def test_bad_layers(build, error):
    with smallnet.Model((2, 6, 6)) as model:
        with pytest.raises(error):
            build(model)


def test_cnn_builders():
    with smallnet.cnn([8, 16], input_shape=(1, 28, 28), classes=10) as model:
        kinds = [layer["kind"] for layer in model.layers if layer["kind"] != "Dropout"]
        assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 2 + ["Flatten", "Linear"]
        conv = model.layers[0]
        assert conv["output_shape"] == (8, 28, 28) and conv["n_params"] == 8 * 9  # no bias
        assert model.layers[-1]["output_shape"] == (10,)
    with smallnet.cnn([8, 16], head="global_average", dropout=0.0) as model:
        kinds = [layer["kind"] for layer in model.layers]
        assert kinds[-2:] == ["GlobalAvgPool2d", "Linear"] and "Dropout" not in kinds
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cnn([8], head="attention")
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cnn([0, 8])


@pytest.mark.parametrize("budget", [20_000, 100_000])
def test_cnn_for_budget(budget):
    with smallnet.cnn_for_budget(budget) as model:
        assert abs(model.n_params - budget) <= 0.02 * budget
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cnn_for_budget(10)


def test_recipes():
    fcn, cnn = smallnet.recipe("fcn"), smallnet.recipe("cnn")
    assert (fcn["epochs"], fcn["batch_size"]) == (30, 64)
    assert fcn["schedule"]["kind"] == "cosine" and fcn["label_smoothing"] == pytest.approx(0.1)
    assert fcn["optimizer"]["kind"] == "adamw" and fcn["optimizer"]["lr"] == pytest.approx(0.002)
    assert cnn["epochs"] == 30 and cnn["crop_padding"] == 1 and cnn["horizontal_flip"]
    assert cnn["schedule"]["kind"] == "cosine" and cnn["label_smoothing"] == pytest.approx(0.1)
    assert cnn["optimizer"]["kind"] == "sgd"
    assert (cnn["optimizer"]["lr"], cnn["optimizer"]["momentum"], cnn["optimizer"]["weight_decay"]) == pytest.approx(
        (0.05, 0.9, 1e-4))
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.recipe("rnn")
    small = smallnet.training.train_defaults("cnn", budget=10_000)
    assert small.crop_padding == 0 and small.horizontal_flip == 1  # no crops for small CNNs
    assert smallnet.recipe("cnn", budget=20_000)["optimizer"]["weight_decay"] == pytest.approx(1e-4)
    assert smallnet.recipe("cnn", budget=20_000)["crop_padding"] == 1
    assert smallnet.recipe("cnn", budget=50_000)["optimizer"]["weight_decay"] == pytest.approx(1e-4)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.recipe("cnn", budget=0)
    with smallnet.cnn_for_budget(20_000) as model:  # the budget defaults to the model's size
        assert smallnet.Optimizer.from_recipe(model, "cnn")._params["weight_decay"] == pytest.approx(1e-4)
        assert smallnet.Optimizer.from_recipe(model, "cnn", budget=100_000)._params["momentum"] == pytest.approx(0.9)
    with smallnet.cnn([4]) as model:
        optimizer = smallnet.Optimizer.from_recipe(model, "cnn")
        assert isinstance(optimizer, smallnet.SGD) and optimizer.kind == "sgd"
        assert optimizer.lr == pytest.approx(0.05)
        assert optimizer.hyperparameters["momentum"] == pytest.approx(0.9)
        optimizer.close()
        with smallnet.Optimizer.from_recipe(model) as optimizer:
            assert isinstance(optimizer, smallnet.AdamW) and optimizer.lr == pytest.approx(0.002)


def test_cnn_fit_save_load(tmp_path):
    images, labels = synthetic(384, shape=(1, 8, 8), noise=0.8)
    with smallnet.Dataset.from_numpy(images, labels) as data, \
            smallnet.cnn([4, 8], input_shape=(1, 8, 8), classes=3, seed=1) as model:
        history = model.fit(data, epochs=4, recipe="cnn", batch_size=32, horizontal_flip=False, crop_padding=0,
                            progress=False)
        losses = history.column("train_loss")
        assert losses[-1] < losses[0]
        path = tmp_path / "cnn.safetensors"
        model.save(path)
        with smallnet.Model.load(path) as loaded:
            assert loaded.layers == model.layers
            np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
