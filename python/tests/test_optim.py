"""Optimizers: PyTorch's defaults, and three steps against the update rules worked out in numpy;
gradient clipping and the schedules' settings."""

from __future__ import annotations

import numpy as np
import pytest

import smallnet


def test_defaults_are_pytorchs():
    sgd = smallnet.optimizer_defaults("sgd")
    assert sgd["lr"] == pytest.approx(0.001)
    assert sgd["momentum"] == 0 and sgd["dampening"] == 0 and sgd["weight_decay"] == 0 and sgd["nesterov"] == 0
    adam = smallnet.optimizer_defaults("adam")
    assert adam["lr"] == pytest.approx(0.001)
    assert (adam["beta1"], adam["beta2"]) == pytest.approx((0.9, 0.999))
    assert adam["eps"] == pytest.approx(1e-8)
    assert adam["weight_decay"] == 0
    adamw = smallnet.optimizer_defaults("adamw")
    assert adamw["lr"] == pytest.approx(0.001)
    assert adamw["weight_decay"] == pytest.approx(0.01)
    assert (adamw["beta1"], adamw["beta2"]) == pytest.approx((0.9, 0.999))
    rmsprop = smallnet.optimizer_defaults("rmsprop")
    assert rmsprop["lr"] == pytest.approx(0.01)
    assert rmsprop["alpha"] == pytest.approx(0.99)
    assert rmsprop["eps"] == pytest.approx(1e-8)
    assert rmsprop["momentum"] == 0 and rmsprop["centered"] == 0
    assert smallnet.optimizer_defaults(smallnet._lib.SN_OPTIMIZER_ADAMW) == adamw
    adagrad = smallnet.optimizer_defaults("adagrad")
    assert adagrad["lr"] == pytest.approx(0.01) and adagrad["eps"] == pytest.approx(1e-10)
    assert adagrad["lr_decay"] == 0 and adagrad["initial_accumulator_value"] == 0 and adagrad["weight_decay"] == 0
    for kind in ("sgd", "rmsprop", "adam", "adamw", "adagrad"):
        defaults = smallnet.optimizer_defaults(kind)
        assert defaults["amsgrad"] == 0 and defaults["maximize"] == 0, kind


def test_unspecified_values_take_defaults_and_given_ones_stick():
    with smallnet.Model((1, 1, 4)).add_linear(2) as model:
        with smallnet.AdamW(model, lr=0.01, betas=(0.8, 0.99)) as optimizer:
            params = optimizer.hyperparameters
            assert params["lr"] == pytest.approx(0.01)
            assert optimizer.betas == pytest.approx((0.8, 0.99))
            assert params["weight_decay"] == pytest.approx(0.01)
            assert params["eps"] == pytest.approx(1e-8)
            assert "AdamW(lr=0.01" in repr(optimizer)
        with smallnet.SGD(model, momentum=0.9, nesterov=True) as optimizer:
            assert optimizer.hyperparameters["nesterov"] == 1
            assert optimizer.lr == pytest.approx(0.001)


def test_lr_get_set():
    with smallnet.Model((1, 1, 4)).add_linear(2) as model, smallnet.RMSProp(model) as optimizer:
        assert optimizer.lr == pytest.approx(0.01)
        optimizer.lr = 0.125
        assert optimizer.lr == 0.125
        assert optimizer.hyperparameters["lr"] == 0.125


# --------------------------------------------------------------- numpy references ---


def reference(kind, p, grads, lr, **h):
    """PyTorch's update rules (torch/optim/*.py, single tensor), float64."""
    p = p.astype(np.float64).copy()
    state = {}
    for t, grad in enumerate(grads, start=1):
        g = grad.astype(np.float64)
        if h.get("maximize"):
            g = -g
        if kind == "adagrad":
            g = g + h.get("weight_decay", 0) * p
            clr = lr / (1 + (t - 1) * h.get("lr_decay", 0))
            state["sum"] = state.get("sum", h.get("initial_accumulator_value", 0)) + g * g
            p -= clr * g / (np.sqrt(state["sum"]) + h.get("eps", 1e-10))
        elif kind == "sgd":
            g = g + h.get("weight_decay", 0) * p
            mu = h.get("momentum", 0)
            if mu:
                b = g.copy() if t == 1 else mu * state["b"] + (1 - h.get("dampening", 0)) * g
                state["b"] = b
                g = g + mu * b if h.get("nesterov") else b
            p -= lr * g
        elif kind == "rmsprop":
            alpha, eps, mu = h.get("alpha", 0.99), h.get("eps", 1e-8), h.get("momentum", 0)
            g = g + h.get("weight_decay", 0) * p
            v = alpha * state.get("v", 0) + (1 - alpha) * g * g
            state["v"] = v
            if h.get("centered"):
                ga = alpha * state.get("ga", 0) + (1 - alpha) * g
                state["ga"] = ga
                avg = np.sqrt(v - ga * ga) + eps
            else:
                avg = np.sqrt(v) + eps
            if mu:
                b = mu * state.get("b", 0) + g / avg
                state["b"] = b
                p -= lr * b
            else:
                p -= lr * g / avg
        else:  # adam, adamw
            b1, b2 = h.get("betas", (0.9, 0.999))
            eps, wd = h.get("eps", 1e-8), h.get("weight_decay", 0.01 if kind == "adamw" else 0)
            if kind == "adamw":
                p *= 1 - lr * wd
            else:
                g = g + wd * p
            m = b1 * state.get("m", 0) + (1 - b1) * g
            v = b2 * state.get("v", 0) + (1 - b2) * g * g
            state["m"], state["v"] = m, v
            if h.get("amsgrad"):
                v = state["v_max"] = np.maximum(state.get("v_max", 0), v)
            denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
            p -= (lr / (1 - b1**t)) * m / denom
    return p


CASES = [
    ("sgd", smallnet.SGD, {}),
    ("sgd", smallnet.SGD, {"momentum": 0.9}),
    ("sgd", smallnet.SGD, {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("sgd", smallnet.SGD, {"momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("rmsprop", smallnet.RMSProp, {}),
    ("rmsprop", smallnet.RMSProp, {"alpha": 0.9, "momentum": 0.5, "weight_decay": 0.1}),
    ("rmsprop", smallnet.RMSProp, {"centered": True, "eps": 1e-6}),
    ("adam", smallnet.Adam, {}),
    ("adam", smallnet.Adam, {"betas": (0.8, 0.95), "weight_decay": 0.1}),
    ("adamw", smallnet.AdamW, {}),
    ("adamw", smallnet.AdamW, {"weight_decay": 0.3, "eps": 1e-6}),
    ("sgd", smallnet.SGD, {"momentum": 0.9, "maximize": True}),
    ("rmsprop", smallnet.RMSProp, {"maximize": True, "weight_decay": 0.1}),
    ("adam", smallnet.Adam, {"amsgrad": True}),
    ("adamw", smallnet.AdamW, {"amsgrad": True, "maximize": True}),
    ("adagrad", smallnet.Adagrad, {}),
    ("adagrad", smallnet.Adagrad, {"lr_decay": 0.5, "weight_decay": 0.1, "initial_accumulator_value": 0.2}),
    ("adagrad", smallnet.Adagrad, {"maximize": True, "eps": 1e-3}),
]


@pytest.mark.parametrize("kind, cls, hyper", CASES)
def test_three_steps_match_the_update_rule(kind, cls, hyper):
    rng = np.random.default_rng(0)
    lr = 0.05
    x = rng.normal(size=(5, 1, 1, 4)).astype(np.float32)
    with smallnet.Model((1, 1, 4)).add_linear(3, bias=False, init="pytorch", seed=7) as model:
        w0 = model.get_tensor("0.weight")
        grads = []
        with cls(model, lr=lr, **hyper) as optimizer:
            for step in range(3):
                g = rng.normal(size=(5, 3)).astype(np.float32) * (step + 1)
                optimizer.zero_grad()
                model(x)
                model.backward(g)
                grads.append(model.grad("0.weight"))
                np.testing.assert_allclose(grads[-1], g.T.astype(np.float64) @ x.reshape(5, 4), rtol=1e-5, atol=1e-6)
                optimizer.step()
            expected = reference(kind, w0, grads, lr, **hyper)
            np.testing.assert_allclose(model.get_tensor("0.weight"), expected, rtol=2e-5, atol=2e-6)


def test_optimizer_outlives_closed_model():
    with smallnet.Model((1, 1, 4)).add_linear(2, init="pytorch") as model:
        optimizer = smallnet.SGD(model, lr=0.1)
        model(np.ones((2, 1, 1, 4), np.float32))
        model.backward(np.ones((2, 2), np.float32))
    assert model.closed
    optimizer.step()  # the library keeps the parameters alive
    optimizer.close()


def test_optimizer_zero_grad_clears_the_models_gradients():
    with smallnet.Model((1, 1, 4)).add_linear(2) as model, smallnet.Adam(model) as optimizer:
        model(np.ones((2, 1, 1, 4), np.float32))
        model.backward(np.ones((2, 2), np.float32))
        assert model.grad("0.weight").any()
        optimizer.zero_grad()
        assert not model.grad("0.weight").any()


def test_new_settings_are_checked_and_shown():
    with smallnet.Model((1, 1, 4)).add_linear(2) as model:
        with smallnet.Adam(model, amsgrad=True) as optimizer:
            assert optimizer.hyperparameters["amsgrad"] == 1
            assert "amsgrad=True" in repr(optimizer)
        with smallnet.Adagrad(model, lr_decay=0.5) as optimizer:
            assert optimizer.kind == "adagrad"
            assert optimizer.hyperparameters["lr_decay"] == 0.5
        with pytest.raises(smallnet.InvalidArgumentError, match="lr decay"):
            smallnet.Adagrad(model, lr_decay=-1)
        with pytest.raises(smallnet.InvalidArgumentError, match="initial accumulator"):
            smallnet.Adagrad(model, initial_accumulator_value=float("nan"))


def test_set_grad_and_clipping():
    with smallnet.Model((1, 1, 4)).add_linear(2) as model:
        model.set_grad("0.weight", np.full((2, 4), 3.0, np.float32))
        model.set_grad("0.bias", [4.0, 0.0])
        total = smallnet.clip_grad_norm_(model, 1.0)
        assert total == pytest.approx(np.sqrt(8 * 9 + 16))
        clipped = np.concatenate([model.grad("0.weight").ravel(), model.grad("0.bias")])
        assert np.linalg.norm(clipped) == pytest.approx(1.0, rel=1e-5)
        smallnet.clip_grad_value_(model, 0.1)
        assert model.grad("0.bias")[0] == pytest.approx(0.1)
        with pytest.raises(smallnet.ShapeMismatchError):
            model.set_grad("0.weight", np.ones((4, 2), np.float32))
        with pytest.raises(smallnet.NotFoundError):
            model.set_grad("3.weight", np.ones(8, np.float32))
        with pytest.raises(smallnet.InvalidArgumentError):
            smallnet.clip_grad_norm_(model, -1.0)
        with pytest.raises(smallnet.InvalidArgumentError, match="smallnet.Model"):
            smallnet.clip_grad_value_("model", 1.0)


def test_schedule_settings():
    rate = smallnet.schedule_lr
    assert rate({"kind": "exponential", "gamma": 0.5}, 1.0, 25, 100, 10) == pytest.approx(0.25)
    assert rate("one-cycle", 1.0, 0, 100, 10) == pytest.approx(0.04)
    assert rate({"kind": "one-cycle", "div_factor": 10}, 1.0, 0, 100, 10) == pytest.approx(0.1)
    assert rate({"kind": "one-cycle", "pct_start": 0.5, "anneal_strategy": "linear"}, 1.0, 49, 100, 10) == \
        pytest.approx(1.0)
    assert rate("plateau", 0.3, 50, 100, 10) == pytest.approx(0.3)
    with pytest.raises(smallnet.InvalidArgumentError, match="anneal_strategy"):
        rate({"kind": "one-cycle", "anneal_strategy": "cubic"}, 1.0, 0, 100, 10)
    with pytest.raises(smallnet.InvalidArgumentError, match="factor"):
        rate({"kind": "plateau", "factor": 1.5}, 1.0, 0, 100, 10)
    with pytest.raises(smallnet.InvalidArgumentError, match="unknown schedule keys"):
        rate({"kind": "one-cycle", "max_lr": 1.0}, 1.0, 0, 100, 10)


def test_fit_clips_and_needs_validation_for_plateau():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 1, 1, 4)).astype(np.float32)
    y = np.arange(32) % 2
    with smallnet.Model((1, 1, 4)).add_linear(2, init="pytorch", seed=1) as model:
        before = model.get_tensor("0.weight")
        with smallnet.SGD(model, lr=1.0) as optimizer:
            model.fit(x, y, optimizer, epochs=1, batch_size=32, progress=False, clip_grad_norm=1e-3)
        moved = np.concatenate([(model.get_tensor("0.weight") - before).ravel()])
        assert np.linalg.norm(moved) <= 1e-3 * (1 + 1e-4)
        with smallnet.SGD(model, lr=0.1) as optimizer:
            with pytest.raises(smallnet.InvalidArgumentError, match="validation"):
                model.fit(x, y, optimizer, epochs=1, progress=False, schedule="plateau")
            with pytest.raises(smallnet.InvalidArgumentError, match="clip_grad_value"):
                model.fit(x, y, optimizer, epochs=1, progress=False, clip_grad_value=-1)


def test_builders_module_and_new_inits():
    from smallnet import builders

    assert smallnet.fcn is builders.fcn and smallnet.cnn_for_budget is builders.cnn_for_budget
    for init in ("xavier_uniform", "xavier_normal", "orthogonal", "kaiming_fan_out", "kaiming_uniform"):
        with smallnet.fcn([16], input_shape=(1, 4, 4), classes=3, init=init) as model:
            assert model.get_tensor("1.weight").std() > 0
    with pytest.raises(smallnet.InvalidArgumentError, match="init must be one of"):
        smallnet.fcn([16], init="glorot")
