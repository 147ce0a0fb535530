"""smallnet.init: torch.nn.init's functions on one named tensor (seeds, buffers, refusals)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import smallnet
from smallnet import init


def model() -> smallnet.Model:
    """Linear 16 → 8 ("0.weight" (8, 16), "0.bias" (8)), then BatchNorm1d (buffers)."""
    return smallnet.Model((1, 4, 4)).add_linear(8, seed=1).add_batchnorm1d()


def test_exported():
    assert smallnet.init is init
    assert "init" in smallnet.__all__
    assert set(init.__all__) >= {"kaiming_normal_", "kaiming_uniform_", "xavier_uniform_", "xavier_normal_",
                                 "orthogonal_", "uniform_", "normal_", "constant_", "zeros_", "ones_",
                                 "calculate_gain"}


@pytest.mark.parametrize("fill", [
    lambda m, seed: init.kaiming_normal_(m, "0.weight", seed=seed),
    lambda m, seed: init.kaiming_uniform_(m, "0.weight", a=math.sqrt(5), seed=seed),
    lambda m, seed: init.xavier_normal_(m, "0.weight", seed=seed),
    lambda m, seed: init.xavier_uniform_(m, "0.weight", gain=2, seed=seed),
    lambda m, seed: init.orthogonal_(m, "0.weight", seed=seed),
    lambda m, seed: init.uniform_(m, "0.weight", -1, 1, seed=seed),
    lambda m, seed: init.normal_(m, "0.weight", 0, 0.1, seed=seed),
])
def test_same_seed_same_values(fill):
    a, b = model(), model()
    fill(a, 5)
    fill(b, 5)
    np.testing.assert_array_equal(a.get_tensor("0.weight"), b.get_tensor("0.weight"))
    fill(b, 6)
    assert not np.array_equal(a.get_tensor("0.weight"), b.get_tensor("0.weight"))


def test_constants_on_parameters_and_buffers():
    m = model()
    init.zeros_(m, "0.bias")
    np.testing.assert_array_equal(m.get_tensor("0.bias"), np.zeros(8, np.float32))
    init.ones_(m, "1.running_var")
    np.testing.assert_array_equal(m.get_tensor("1.running_var"), np.ones(8, np.float32))
    init.constant_(m, "0.weight", -0.25)
    assert (m.get_tensor("0.weight") == -0.25).all() and m.get_tensor("0.weight").shape == (8, 16)
    init.uniform_(m, "0.bias", 2, 3, seed=1)
    bias = m.get_tensor("0.bias")
    assert ((bias >= 2) & (bias <= 3)).all() and len(set(bias.tolist())) == 8


@pytest.mark.parametrize("call, error, says", [
    (lambda m: init.normal_(m, "9.weight"), smallnet.NotFoundError, "9.weight"),
    (lambda m: init.kaiming_normal_(m, "0.bias"), smallnet.InvalidArgumentError, "2 dimensions"),
    (lambda m: init.xavier_uniform_(m, "0.bias"), smallnet.InvalidArgumentError, "2 dimensions"),
    (lambda m: init.orthogonal_(m, "0.bias"), smallnet.InvalidArgumentError, "2 or more dimensions"),
    (lambda m: init.kaiming_uniform_(m, "0.weight", mode="fan_avg"), smallnet.InvalidArgumentError, "fan_in"),
    (lambda m: init.kaiming_uniform_(m, "0.weight", nonlinearity="gelu"), smallnet.InvalidArgumentError, "gelu"),
    (lambda m: init.kaiming_normal_(m, "0.weight", a=math.nan), smallnet.InvalidArgumentError, "negative slope"),
    (lambda m: init.xavier_normal_(m, "0.weight", gain=-1), smallnet.InvalidArgumentError, "gain"),
    (lambda m: init.normal_(m, "0.weight", std=-1), smallnet.InvalidArgumentError, "std"),
    (lambda m: init.normal_(m, "0.weight", mean=math.inf), smallnet.InvalidArgumentError, "mean"),
    (lambda m: init.uniform_(m, "0.weight", 1, 0), smallnet.InvalidArgumentError, "low"),
    (lambda m: init.constant_(m, "0.weight", math.nan), smallnet.InvalidArgumentError, "value"),
    (lambda m: init.constant_(m, "1.num_batches_tracked", 0.5), smallnet.InvalidArgumentError, "whole number"),
    (lambda m: init.normal_(m, "0.weight", seed=-1), smallnet.InvalidArgumentError, "seed"),
    (lambda m: init.normal_(m, 0), smallnet.InvalidArgumentError, "name"),
    (lambda m: init.normal_(None, "0.weight"), smallnet.InvalidArgumentError, "smallnet.Model"),
])
def test_refusals_name_the_problem_and_change_nothing(call, error, says):
    m = model()
    before = m.state_dict()
    with pytest.raises(error, match=says):
        call(m)
    after = m.state_dict()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv_transpose3d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)
