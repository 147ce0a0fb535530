"""Models trained by smallnet give PyTorch's logits when their checkpoint is loaded there."""

from __future__ import annotations

import json

import numpy as np
import pytest

import smallnet

from conftest import DATA_DIR, synthetic

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402


class GlobalAvgPool2d(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def torch_layer(spec: dict):
    """The torch module for one entry of the checkpoint's "smallnet.architecture" layers."""
    kind = spec["kind"]
    if kind == "flatten":
        return torch.nn.Flatten()
    if kind == "linear":
        return torch.nn.Linear(spec["in"], spec["out"], bias=spec.get("bias", True))
    if kind == "batchnorm1d":
        return torch.nn.BatchNorm1d(spec["features"], eps=spec["eps"], momentum=spec["momentum"])
    if kind == "batchnorm2d":
        return torch.nn.BatchNorm2d(spec["channels"], eps=spec["eps"], momentum=spec["momentum"])
    if kind == "relu":
        return torch.nn.ReLU()
    if kind == "dropout":
        return torch.nn.Dropout(spec["p"])
    if kind == "conv2d":
        return torch.nn.Conv2d(spec["in"], spec["out"], spec["kernel"], stride=spec["stride"],
                               padding=spec["padding"], bias=spec.get("bias", True))
    if kind == "maxpool2d":
        return torch.nn.MaxPool2d(spec["kernel"], stride=spec["stride"])
    if kind == "avgpool2d":
        return torch.nn.AvgPool2d(spec["kernel"], stride=spec["stride"])
    if kind == "globalavgpool2d":
        return GlobalAvgPool2d()
    raise AssertionError(f"no torch layer for {kind}")


def load_in_torch(path) -> "torch.nn.Sequential":
    """A torch.nn.Sequential built from the checkpoint's architecture, with its tensors."""
    with safe_open(str(path), framework="numpy") as f:
        architecture = json.loads(f.metadata()["smallnet.architecture"])
    reference = torch.nn.Sequential(*[torch_layer(spec) for spec in architecture["layers"]])
    tensors = safetensors_numpy.load_file(str(path))
    target = reference.state_dict()
    reference.load_state_dict(
        {name: torch.from_numpy(np.asarray(value)).to(target[name].dtype).reshape(target[name].shape)
         for name, value in tensors.items()},
        strict=True,
    )
    return reference.eval()


def data(n_train: int, n_test: int):
    if DATA_DIR.is_dir():
        with smallnet.Dataset.fashion_mnist(train=True) as full, smallnet.Dataset.fashion_mnist(train=False) as test:
            return full.subset(0, n_train), test.subset(0, n_test)
    images, labels = synthetic(n_train + n_test, classes=10, shape=(1, 28, 28), noise=1.0)
    return (smallnet.Dataset.from_numpy(images[:n_train], labels[:n_train]),
            smallnet.Dataset.from_numpy(images[n_train:], labels[n_train:]))


def compare(model: smallnet.Model, train: smallnet.Dataset, test: smallnet.Dataset, tmp_path, **fit) -> float:
    model.fit(train, epochs=1, progress=False, **fit)
    path = tmp_path / "model.safetensors"
    model.save(path)
    reference = load_in_torch(path)
    assert [type(m).__name__.lower() for m in reference] == [layer["kind"].lower() for layer in model.layers]
    assert sum(p.numel() for p in reference.parameters()) == model.n_params
    images, _ = test.numpy()
    model.eval()
    ours = model(images)
    with torch.no_grad():
        theirs = reference(torch.from_numpy(images)).numpy()
    difference = float(np.abs(ours - theirs).max())
    print(f"max |smallnet - torch| over {len(images)} images: {difference:.3g}")
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).mean() > 0.99
    return difference


def test_fcn_100k_matches_torch(tmp_path):
    train, test = data(2000, 1000)
    with train, test, smallnet.fcn_for_budget(100_000) as model:
        assert abs(model.n_params - 100_000) <= 2_000
        assert compare(model, train, test, tmp_path) <= 1e-4


@pytest.mark.skipif("sn_model_create_cnn" in smallnet._lib.MISSING, reason="the library has no CNNs")
@pytest.mark.parametrize("head", ["linear", "global_average"])
def test_cnn_matches_torch(tmp_path, head):
    train, test = data(2000, 500)
    with train, test, smallnet.cnn_for_budget(20_000, head=head) as model:
        assert compare(model, train, test, tmp_path, recipe="cnn") <= 1e-4


def _layer_model(input_shape, add):
    model = smallnet.Model(input_shape)
    add(model)
    return model


@pytest.mark.parametrize("training", [False, True])
def test_single_layers_match_pytorch(training):
    """Conv2d (stride, padding), MaxPool2d, AvgPool2d and BatchNorm2d (batch statistics in
    training mode, running ones in eval mode) on random inputs, weights copied into PyTorch."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3, 11, 9)).astype(np.float32)
    cases = [
        (lambda m: m.add_conv2d(4, 3, stride=1, padding=1, seed=1), torch.nn.Conv2d(3, 4, 3, padding=1)),
        (lambda m: m.add_conv2d(6, 3, stride=2, padding=1, seed=2), torch.nn.Conv2d(3, 6, 3, stride=2, padding=1)),
        (lambda m: m.add_conv2d(2, 2, stride=2, padding=0, bias=False, seed=3),
         torch.nn.Conv2d(3, 2, 2, stride=2, bias=False)),
        (lambda m: m.add_maxpool2d(2), torch.nn.MaxPool2d(2)),
        (lambda m: m.add_maxpool2d(3, 2), torch.nn.MaxPool2d(3, stride=2)),
        (lambda m: m.add_avgpool2d(2), torch.nn.AvgPool2d(2)),
        (lambda m: m.add_batchnorm2d(), torch.nn.BatchNorm2d(3)),
    ]
    worst = 0.0
    for add, reference in cases:
        model = _layer_model((3, 11, 9), add)
        state = {name: torch.from_numpy(np.asarray(value)) for name, value in model.state_dict().items()}
        if isinstance(reference, torch.nn.BatchNorm2d):  # non-trivial statistics and affine terms
            for name, value in (("0.weight", rng.normal(1, 0.3, 3)), ("0.bias", rng.normal(0, 0.5, 3)),
                                ("0.running_mean", rng.normal(0, 0.5, 3)), ("0.running_var", rng.uniform(0.5, 2, 3))):
                model.set_tensor(name, value.astype(np.float32))
                state[name] = torch.from_numpy(value.astype(np.float32))
        reference.load_state_dict({k.split(".", 1)[1]: v.to(reference.state_dict()[k.split(".", 1)[1]].dtype)
                                   for k, v in state.items()})
        model.train(training)
        reference.train(training)
        ours = model(x)
        with torch.no_grad():
            theirs = reference(torch.from_numpy(x)).numpy()
        assert ours.shape == theirs.shape, (reference, ours.shape, theirs.shape)
        difference = float(np.max(np.abs(ours - theirs)))
        worst = max(worst, difference)
        assert difference <= 1e-4, (reference, difference)
        if isinstance(reference, torch.nn.BatchNorm2d) and training:  # running statistics moved alike
            for name in ("running_mean", "running_var"):
                assert np.allclose(model.get_tensor(f"0.{name}"), getattr(reference, name).numpy(), atol=1e-5)
    print(f"largest difference from PyTorch ({'training' if training else 'eval'} mode): {worst:.2e}")
