"""Models: building, tensors through numpy, forward and backward against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet

from conftest import synthetic

SMALL_NAMES = [
    "1.weight", "1.bias",
    "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked",
    "5.weight", "5.bias",
]


def np_forward(state, x, bn_eps=1e-5):
    """Flatten → Linear → BatchNorm1d (eval) → ReLU → Dropout (eval) → Linear, in numpy float64."""
    h = x.reshape(len(x), -1).astype(np.float64)
    h = h @ state["1.weight"].T.astype(np.float64) + state["1.bias"]
    h = (h - state["2.running_mean"]) / np.sqrt(state["2.running_var"].astype(np.float64) + bn_eps)
    h = h * state["2.weight"] + state["2.bias"]
    h = np.maximum(h, 0)
    return h @ state["5.weight"].T.astype(np.float64) + state["5.bias"]


def randomize(model, rng):
    """Random values in every tensor (positive variances), written with set_tensor."""
    for info in model.tensor_info():
        name, shape = info["name"], info["shape"]
        if name.endswith("num_batches_tracked"):
            continue
        value = rng.normal(0, 0.5, size=shape).astype(np.float32)
        if name.endswith("running_var"):
            value = rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
        model.set_tensor(name, value)


def test_layers_and_counts(small_model):
    layers = small_model.layers
    assert [layer["kind"] for layer in layers] == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert [layer["output_shape"] for layer in layers] == [(64,), (16,), (16,), (16,), (16,), (3,)]
    assert [layer["n_params"] for layer in layers] == [0, 64 * 16 + 16, 32, 0, 0, 16 * 3 + 3]
    assert layers[1]["summary"] == "Linear(64 → 16)"
    assert "0.5" in layers[4]["summary"]
    assert small_model.n_params == 64 * 16 + 16 + 32 + 16 * 3 + 3
    assert small_model.input_shape == (1, 8, 8)
    assert small_model.n_outputs == 3
    assert "Linear(64 → 16)" in repr(small_model)


def test_linear_without_bias():
    with smallnet.Model((2, 3, 3)).add_linear(4, bias=False) as model:
        assert [i["name"] for i in model.tensor_info()] == ["0.weight"]
        assert model.n_params == 18 * 4
        assert model.layers[0]["summary"] == "Linear(18 → 4, no bias)"


def test_tensor_order_and_state_dict_types(small_model):
    infos = small_model.tensor_info()
    assert [i["name"] for i in infos] == SMALL_NAMES
    assert [i["trainable"] for i in infos] == [True, True, True, True, False, False, False, True, True]
    state = small_model.state_dict()
    assert list(state) == SMALL_NAMES
    assert state["1.weight"].shape == (16, 64)
    assert state["5.weight"].shape == (3, 16)
    assert state["2.num_batches_tracked"].dtype == np.int64
    assert state["2.num_batches_tracked"].shape == ()
    assert state["2.num_batches_tracked"] == 0
    for name in SMALL_NAMES:
        if not name.endswith("num_batches_tracked"):
            assert state[name].dtype == np.float32
    np.testing.assert_array_equal(state["2.weight"], np.ones(16))
    np.testing.assert_array_equal(state["2.bias"], np.zeros(16))
    np.testing.assert_array_equal(state["2.running_mean"], np.zeros(16))
    np.testing.assert_array_equal(state["2.running_var"], np.ones(16))


def test_set_get_round_trip(small_model):
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(16, 64)).astype(np.float32)
    small_model.set_tensor("1.weight", weight)
    np.testing.assert_array_equal(small_model.get_tensor("1.weight"), weight)
    # Any shape with the right number of elements; float64 and strided views are converted.
    wide = rng.normal(size=(64, 32))
    small_model.set_tensor("1.weight", wide[:, ::2].T)
    np.testing.assert_array_equal(small_model.get_tensor("1.weight"), wide[:, ::2].T.astype(np.float32))
    small_model.set_tensor("2.num_batches_tracked", [7])
    assert small_model.state_dict()["2.num_batches_tracked"] == 7


def test_initialisation():
    def weights(init, seed):
        with smallnet.Model((1, 20, 20)).add_linear(300, init=init, seed=seed) as m:
            return m.get_tensor("0.weight"), m.get_tensor("0.bias")

    w0, b0 = weights("kaiming", 0)
    w0_again, _ = weights("kaiming", 0)
    w1, _ = weights("kaiming", 1)
    np.testing.assert_array_equal(w0, w0_again)
    assert not np.array_equal(w0, w1)
    assert np.all(b0 == 0)
    assert w0.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert abs(w0.mean()) < 0.005
    wp, bp = weights("pytorch", 0)
    bound = 1 / np.sqrt(400)
    assert np.abs(wp).max() <= bound and np.abs(bp).max() <= bound
    assert wp.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    assert np.any(bp != 0)


def test_forward_matches_numpy_in_eval_mode(small_model):
    rng = np.random.default_rng(1)
    randomize(small_model, rng)
    small_model.eval()
    x = rng.normal(size=(7, 1, 8, 8)).astype(np.float32)
    logits = small_model(x)
    assert logits.dtype == np.float32 and logits.shape == (7, 3)
    np.testing.assert_allclose(logits, np_forward(small_model.state_dict(), x), rtol=1e-5, atol=1e-5)
    # One sample, flat rows, float64 and strided input give the same numbers.
    np.testing.assert_allclose(small_model(x[2]), logits[2:3], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(small_model(x.reshape(7, 64)), logits, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(small_model(x.astype(np.float64)), logits, rtol=1e-6, atol=1e-6)
    strided = np.repeat(x, 2, axis=0)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_allclose(small_model(strided), logits, rtol=1e-6, atol=1e-6)


def test_batchnorm_training_mode_and_running_statistics(small_model):
    rng = np.random.default_rng(2)
    randomize(small_model, rng)
    small_model.set_tensor("2.running_mean", np.zeros(16))
    small_model.set_tensor("2.running_var", np.ones(16))
    small_model.set_tensor("2.num_batches_tracked", [0])
    small_model.train()
    assert small_model.training
    state = small_model.state_dict()
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    small_model(x)
    h = x.reshape(32, -1).astype(np.float64) @ state["1.weight"].T + state["1.bias"]
    mean, var_unbiased = h.mean(axis=0), h.var(axis=0, ddof=1)
    after = small_model.state_dict()
    np.testing.assert_allclose(after["2.running_mean"], 0.1 * mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after["2.running_var"], 0.9 + 0.1 * var_unbiased, rtol=1e-4, atol=1e-5)
    assert after["2.num_batches_tracked"] == 1
    # Eval mode does not touch the running statistics.
    small_model.eval()
    assert not small_model.training
    small_model(x)
    np.testing.assert_array_equal(small_model.state_dict()["2.running_mean"], after["2.running_mean"])


def test_batchnorm_normalises_with_batch_statistics():
    with smallnet.Model((1, 1, 6)).add_flatten().add_batchnorm1d() as model:
        model.train()
        rng = np.random.default_rng(3)
        x = rng.normal(3.0, 2.0, size=(50, 1, 1, 6)).astype(np.float32)
        y = model(x)
        h = x.reshape(50, 6).astype(np.float64)
        expected = (h - h.mean(axis=0)) / np.sqrt(h.var(axis=0) + 1e-5)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_dropout_training_and_eval():
    with smallnet.Model((1, 1, 10000)).add_flatten().add_dropout(0.25) as model:
        x = np.ones((2, 1, 1, 10000), np.float32)
        model.train()
        y = model(x)
        kept = y != 0
        assert 0.72 < kept.mean() < 0.78
        np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
        model.eval()
        np.testing.assert_array_equal(model(x), x.reshape(2, -1))


def test_backward_matches_numpy(linear_model):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 1, 8, 8)).astype(np.float32)
    g = rng.normal(size=(6, 3)).astype(np.float32)
    s = linear_model.state_dict()
    linear_model.zero_grad()
    linear_model(x)
    linear_model.backward(g)
    # Numpy: a = x W1ᵀ + b1, h = relu(a), y = h W2ᵀ + b2.
    flat = x.reshape(6, -1).astype(np.float64)
    a = flat @ s["1.weight"].T + s["1.bias"]
    h = np.maximum(a, 0)
    dh = g @ s["3.weight"]
    da = dh * (a > 0)
    expected = {
        "3.weight": g.T @ h, "3.bias": g.sum(axis=0),
        "1.weight": da.T @ flat, "1.bias": da.sum(axis=0),
    }
    for name, value in expected.items():
        grad = linear_model.grad(name)
        assert grad.shape == value.shape
        np.testing.assert_allclose(grad, value, rtol=1e-4, atol=1e-5)
    # Gradients accumulate until zero_grad.
    linear_model(x)
    linear_model.backward(g)
    np.testing.assert_allclose(linear_model.grad("1.bias"), 2 * expected["1.bias"], rtol=1e-4, atol=1e-5)
    linear_model.zero_grad()
    assert not linear_model.grad("1.weight").any()


def test_backward_finite_differences():
    """d(loss)/d(weight) from backward against central differences of the forward, in
    training mode with dropout off (the same batch statistics in every evaluation)."""
    rng = np.random.default_rng(5)
    with (smallnet.Model((1, 8, 8)).add_flatten().add_linear(6, seed=1).add_batchnorm1d().add_relu()
          .add_linear(3, seed=2)) as model:
        x = rng.normal(size=(8, 1, 8, 8)).astype(np.float32)
        labels = rng.integers(0, 3, size=8)
        model.train()

        def loss_at():
            loss, _ = smallnet.cross_entropy(model(x), labels)
            return loss

        model.zero_grad()
        _, dlogits = smallnet.cross_entropy(model(x), labels)
        model.backward(dlogits)
        for name in ("1.weight", "2.weight", "2.bias", "4.weight"):
            grad = model.grad(name).reshape(-1)
            value = model.get_tensor(name).reshape(-1).astype(np.float64)
            for index in rng.choice(value.size, size=4, replace=False):
                eps = 1e-2
                shifted = value.copy()
                shifted[index] += eps
                model.set_tensor(name, shifted)
                up = loss_at()
                shifted[index] -= 2 * eps
                model.set_tensor(name, shifted)
                down = loss_at()
                model.set_tensor(name, value)
                numeric = (up - down) / (2 * eps)
                assert grad[index] == pytest.approx(numeric, rel=0.05, abs=2e-3), (name, index)


def test_state_dict_round_trip_gives_identical_logits(small_model):
    rng = np.random.default_rng(6)
    randomize(small_model, rng)
    small_model.set_tensor("2.num_batches_tracked", [12])
    state = small_model.state_dict()
    with (smallnet.Model((1, 8, 8)).add_flatten().add_linear(16, seed=9).add_batchnorm1d().add_relu()
          .add_dropout(0.5).add_linear(3, seed=9)) as other:
        result = other.load_state_dict(state)
        assert result == smallnet.IncompatibleKeys([], [])
        x = rng.normal(size=(5, 1, 8, 8)).astype(np.float32)
        small_model.eval()
        other.eval()
        np.testing.assert_array_equal(small_model(x), other(x))
        copied = other.state_dict()
        for name in state:
            np.testing.assert_array_equal(copied[name], state[name])
            assert copied[name].dtype == state[name].dtype


def test_load_state_dict_not_strict(small_model):
    state = {"1.bias": np.arange(16, dtype=np.float32), "other.weight": np.zeros(2)}
    result = small_model.load_state_dict(state, strict=False)
    assert result.missing_keys == [n for n in SMALL_NAMES if n != "1.bias"]
    assert result.unexpected_keys == ["other.weight"]
    np.testing.assert_array_equal(small_model.get_tensor("1.bias"), np.arange(16))


def test_train_eval_modes(small_model):
    assert small_model.training  # the default
    assert small_model.eval() is small_model
    assert not small_model.training
    small_model.train()
    assert small_model.training
    small_model.train(False)
    assert not small_model.training


def test_fcn_builders():
    with smallnet.fcn([32, 16], input_shape=(1, 8, 8), classes=3, dropout=0.2) as model:
        kinds = [layer["kind"] for layer in model.layers]
        assert kinds == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout",
                         "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
        assert model.n_params == (64 * 32 + 32) + 64 + (32 * 16 + 16) + 32 + (16 * 3 + 3)
        assert model.n_outputs == 3
    with smallnet.fcn([20], input_shape=(1, 8, 8), classes=4, batchnorm=False, dropout=0.0) as model:
        assert [layer["kind"] for layer in model.layers] == ["Flatten", "Linear", "ReLU", "Linear"]
    with smallnet.fcn() as model:  # defaults: (1, 28, 28) in, 10 out
        assert model.input_shape == (1, 28, 28)
        assert model.n_outputs == 10
        assert [layer["output_shape"] for layer in model.layers if layer["kind"] == "Linear"] == [(256,), (128,), (10,)]


def test_fcn_seed_and_init():
    with smallnet.fcn([8], seed=1) as a, smallnet.fcn([8], seed=1) as b, smallnet.fcn([8], seed=2) as c:
        np.testing.assert_array_equal(a.get_tensor("1.weight"), b.get_tensor("1.weight"))
        assert not np.array_equal(a.get_tensor("1.weight"), c.get_tensor("1.weight"))
    with smallnet.fcn([8], init="pytorch") as model:
        assert np.any(model.get_tensor("1.bias") != 0)


@pytest.mark.parametrize("budget", [50_000, 100_000, 200_000])
def test_fcn_for_budget(budget):
    with smallnet.fcn_for_budget(budget) as model:
        assert abs(model.n_params - budget) <= 0.02 * budget
        kinds = [layer["kind"] for layer in model.layers]
        assert kinds[0] == "Flatten" and kinds[-1] == "Linear"
        widths = [layer["output_shape"][0] for layer in model.layers if layer["kind"] == "Linear"]
        assert len(widths) == 3 and widths[-1] == 10
        assert ("Dropout" in kinds) == (budget >= 75_000)


def test_fcn_bad_arguments():
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.fcn_for_budget(10)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.fcn([0, 4])
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.fcn("256")
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.fcn([16], init="he")
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.fcn([16], dropout=1.0)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.fcn([16], classes=0)


def test_finalizer_frees_without_close():
    import gc
    import weakref

    model = smallnet.fcn([8])
    finalizer = model._finalizer
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None
    assert not finalizer.alive


def test_many_models_do_not_leak_handles():
    images, labels = synthetic(16, shape=(1, 4, 4))
    for _ in range(200):
        with smallnet.Model((1, 4, 4)).add_flatten().add_linear(3) as model:
            model.eval()
            model(images)
