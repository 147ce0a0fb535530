"""torch.nn.init for one named tensor of a model: Kaiming, Xavier, orthogonal, uniform, normal,
constant.

Each function refills the parameter or buffer ``name`` (PyTorch's name, ``"0.weight"``) of a
smallnet.Model in place, with torch's arguments and defaults. Random numbers come from
smallnet's generator seeded with ``seed`` (the same seed gives the same values, from Python, C
and Swift alike), so the values differ from torch's while the distributions do not. Fans are
torch's: for a tensor (d0, d1, k…), fan_in = d1·∏k and fan_out = d0·∏k; Kaiming, Xavier and
orthogonal refuse a tensor of fewer than 2 dimensions, as torch does.

Example:
    >>> import smallnet
    >>> model = smallnet.fcn(hidden=[256])
    >>> smallnet.init.kaiming_normal_(model, "0.weight", mode="fan_out", nonlinearity="relu", seed=1)
    >>> smallnet.init.zeros_(model, "0.bias")
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

from . import _lib
from ._handle import Handle, to_float, to_text, to_uint64
from .errors import InvalidArgumentError, check

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_lib_ = _lib.lib


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain of a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Args:
        nonlinearity: "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
            "conv_transpose2d", "conv_transpose3d", "sigmoid" (gain 1), "tanh" (5/3), "relu"
            (√2), "leaky_relu" (√(2 / (1 + slope²))) or "selu" (3/4).
        param: the negative slope of leaky_relu; None means 0.01, as in torch.

    Raises:
        InvalidArgumentError: an unknown nonlinearity or a slope that is not a number.

    Example:
        >>> smallnet.init.calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    code = _nonlinearity(nonlinearity)
    if code == _lib.SN_NONLINEARITY_LINEAR or code == _lib.SN_NONLINEARITY_SIGMOID:
        return 1
    if code == _lib.SN_NONLINEARITY_TANH:
        return 5.0 / 3
    if code == _lib.SN_NONLINEARITY_RELU:
        return math.sqrt(2.0)
    if code == _lib.SN_NONLINEARITY_SELU:
        return 3.0 / 4
    if param is None:
        slope = 0.01
    elif isinstance(param, (int, float)) and not isinstance(param, bool):
        slope = param
    else:
        raise InvalidArgumentError(f"negative_slope {param!r} is not a valid number")
    return math.sqrt(2.0 / (1 + slope**2))


def kaiming_normal_(model: Any, name: str, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    seed: int = 0) -> None:
    """Fills tensor ``name`` from N(0, std²), std = gain / √fan (He et al., 2015), as
    ``torch.nn.init.kaiming_normal_``.

    Args:
        model: a smallnet.Model, changed in place.
        name: the tensor's PyTorch name, e.g. "0.weight" (at least 2 dimensions).
        a: the negative slope of leaky_relu (other nonlinearities ignore it).
        mode: "fan_in" keeps the forward pass's variance, "fan_out" the backward pass's.
        nonlinearity: as for calculate_gain; the default, leaky_relu with a = 0, gives √2.
        seed: seeds smallnet's generator.

    Raises:
        NotFoundError: no tensor of that name.
        InvalidArgumentError: a bad argument, or a tensor of fewer than 2 dimensions.

    Example:
        >>> smallnet.init.kaiming_normal_(model, "0.weight", nonlinearity="relu")
    """
    _kaiming(_lib.SN_TENSOR_INIT_KAIMING_NORMAL, model, name, a, mode, nonlinearity, seed)


def kaiming_uniform_(model: Any, name: str, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     seed: int = 0) -> None:
    """Fills tensor ``name`` from U(−bound, bound), bound = gain·√(3 / fan), as
    ``torch.nn.init.kaiming_uniform_``. Arguments as for kaiming_normal_.

    Example:
        >>> smallnet.init.kaiming_uniform_(model, "0.weight", a=math.sqrt(5))  # nn.Linear's own
    """
    _kaiming(_lib.SN_TENSOR_INIT_KAIMING_UNIFORM, model, name, a, mode, nonlinearity, seed)


def xavier_normal_(model: Any, name: str, gain: float = 1.0, seed: int = 0) -> None:
    """Fills tensor ``name`` from N(0, std²), std = gain·√(2 / (fan_in + fan_out)) (Glorot &
    Bengio, 2010), as ``torch.nn.init.xavier_normal_``. gain must be ≥ 0.

    Example:
        >>> smallnet.init.xavier_normal_(model, "0.weight", gain=smallnet.init.calculate_gain("tanh"))
    """
    _fill(_lib.SN_TENSOR_INIT_XAVIER_NORMAL, model, name, seed, gain=to_float(gain, "gain"))


def xavier_uniform_(model: Any, name: str, gain: float = 1.0, seed: int = 0) -> None:
    """Fills tensor ``name`` from U(−bound, bound), bound = gain·√(6 / (fan_in + fan_out)), as
    ``torch.nn.init.xavier_uniform_``. gain must be ≥ 0.

    Example:
        >>> smallnet.init.xavier_uniform_(model, "0.weight")
    """
    _fill(_lib.SN_TENSOR_INIT_XAVIER_UNIFORM, model, name, seed, gain=to_float(gain, "gain"))


def orthogonal_(model: Any, name: str, gain: float = 1, seed: int = 0) -> None:
    """Makes tensor ``name``, as a (d0, rest) matrix, gain·Q with orthonormal rows (or columns,
    when it is tall) (Saxe et al., 2014), as ``torch.nn.init.orthogonal_``.

    Example:
        >>> smallnet.init.orthogonal_(model, "0.weight", gain=2)   # W·Wᵀ = 4·I
    """
    _fill(_lib.SN_TENSOR_INIT_ORTHOGONAL, model, name, seed, gain=to_float(gain, "gain"))


def uniform_(model: Any, name: str, a: float = 0.0, b: float = 1.0, seed: int = 0) -> None:
    """Fills tensor ``name`` from U(a, b), a ≤ b, as ``torch.nn.init.uniform_``.

    Example:
        >>> smallnet.init.uniform_(model, "0.bias", -0.1, 0.1)
    """
    _fill(_lib.SN_TENSOR_INIT_UNIFORM, model, name, seed, low=to_float(a, "a"), high=to_float(b, "b"))


def normal_(model: Any, name: str, mean: float = 0.0, std: float = 1.0, seed: int = 0) -> None:
    """Fills tensor ``name`` from N(mean, std²), std ≥ 0, as ``torch.nn.init.normal_``.

    Example:
        >>> smallnet.init.normal_(model, "0.weight", std=0.02)
    """
    _fill(_lib.SN_TENSOR_INIT_NORMAL, model, name, seed, mean=to_float(mean, "mean"), std=to_float(std, "std"))


def constant_(model: Any, name: str, val: float) -> None:
    """Sets every element of tensor ``name`` to ``val``, as ``torch.nn.init.constant_``.

    Example:
        >>> smallnet.init.constant_(model, "1.weight", 0.5)
    """
    _fill(_lib.SN_TENSOR_INIT_CONSTANT, model, name, 0, value=to_float(val, "val"))


def zeros_(model: Any, name: str) -> None:
    """Sets tensor ``name`` to zeros, as ``torch.nn.init.zeros_``."""
    constant_(model, name, 0.0)


def ones_(model: Any, name: str) -> None:
    """Sets tensor ``name`` to ones, as ``torch.nn.init.ones_``."""
    constant_(model, name, 1.0)


def _nonlinearity(nonlinearity: Any) -> int:
    code = _lib.NONLINEARITY_CODES.get(nonlinearity) if isinstance(nonlinearity, str) else None
    if code is None:
        raise InvalidArgumentError(
            f"unsupported nonlinearity {nonlinearity!r} (one of {', '.join(_lib.NONLINEARITY_CODES)})"
        )
    return code


def _kaiming(scheme: int, model: Any, name: str, a: Any, mode: Any, nonlinearity: Any, seed: Any) -> None:
    code = _lib.FAN_MODE_CODES.get(mode) if isinstance(mode, str) else None
    if code is None:
        raise InvalidArgumentError(f"mode {mode!r} is not supported, use one of fan_in, fan_out")
    _fill(scheme, model, name, seed, a=to_float(a, "a"), mode=code, nonlinearity=_nonlinearity(nonlinearity))


def _fill(scheme: int, model: Any, name: str, seed: Any, **fields: Any) -> None:
    """sn_model_init_tensor with the defaults of `scheme`, `fields` and `seed`."""
    if not (isinstance(model, Handle) and model._noun == "model"):
        raise InvalidArgumentError(f"expected a smallnet.Model, got {type(model).__name__}")
    key = to_text(name, "name")
    params = _lib.sn_tensor_init()
    params.struct_size = ctypes.sizeof(params)
    check(_lib_.sn_tensor_init_default(scheme, ctypes.byref(params)))
    for field, value in fields.items():
        setattr(params, field, value)
    params.seed = to_uint64(seed, "seed")
    check(_lib_.sn_model_init_tensor(model._handle, key, ctypes.byref(params)))
