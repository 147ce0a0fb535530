"""Model builders: fully-connected and convolutional classifiers from explicit widths or from a
parameter budget (``sn_model_create_fcn``, ``sn_model_create_cnn``)."""

from __future__ import annotations

import ctypes
from typing import Any, Sequence

from . import _lib
from ._handle import new_pointer, to_flag, to_float, to_int, to_int32, to_uint64
from .errors import InvalidArgumentError, check
from .model import HEADS, Model, _init_code, _shape3

__all__ = ["cnn", "cnn_for_budget", "fcn", "fcn_for_budget"]

_lib_ = _lib.lib


def _widths(values: Any, name: str):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidArgumentError(f"{name} must be a list of widths, got {values!r}")
    widths = [to_int32(v, f"{name} entry") for v in values]
    return (ctypes.c_int32 * max(len(widths), 1))(*widths), len(widths)


def _builder_params(struct_type, defaults, input_shape, classes, dropout, init, seed):
    """A builder's parameter struct (``sn_fcn_params`` or ``sn_cnn_params``): the library's
    defaults, then each of the settings both builders share that is not None."""
    params = struct_type()
    params.struct_size = ctypes.sizeof(params)
    check(defaults(ctypes.byref(params)))
    if input_shape is not None:
        params.channels, params.height, params.width = _shape3(input_shape)
    if classes is not None:
        params.classes = to_int32(classes, "classes")
    if dropout is not None:
        params.dropout = to_float(dropout, "dropout")
    if init is not None:
        params.init = _init_code(init)
    if seed is not None:
        params.seed = to_uint64(seed, "seed")
    return params


def _fcn(hidden: Sequence[int] | None, budget: int | None, input_shape, classes, dropout, batchnorm, init,
         seed) -> Model:
    params = _builder_params(_lib.sn_fcn_params, _lib_.sn_fcn_params_default, input_shape, classes, dropout, init,
                             seed)
    widths = None
    if hidden is not None:
        widths, params.n_hidden = _widths(hidden, "hidden")
        params.hidden = ctypes.cast(widths, ctypes.POINTER(ctypes.c_int32))
    else:
        params.hidden = None
        params.n_hidden = 0
        params.param_budget = to_int(budget, "budget", -(2**63), 2**63 - 1)
    if batchnorm is not None:
        params.batchnorm = to_flag(batchnorm, "batchnorm")
    out = new_pointer()
    check(_lib_.sn_model_create_fcn(ctypes.byref(params), ctypes.byref(out)))
    del widths  # borrowed only during the call
    return Model._wrap(out.value)


def fcn(hidden: Sequence[int] = (256, 128), *, input_shape: Sequence[int] | None = None, classes: int | None = None,
        dropout: float | None = None, batchnorm: bool | None = None, init: str | None = None,
        seed: int | None = None) -> Model:
    """A fully-connected classifier with explicit hidden widths:
    Flatten → [Linear → BatchNorm1d → ReLU → Dropout] × len(hidden) → Linear(classes).

    Settings left as None take the library's defaults (``sn_fcn_params_default``).

    Args:
        hidden: the hidden layers' widths.
        input_shape: (C, H, W); default (1, 28, 28).
        classes: the number of outputs; default 10.
        dropout: drop probability after each hidden ReLU; None: the recipe's choice
            (0.1, none under 75K parameters); 0 for none.
        batchnorm: BatchNorm1d after each hidden Linear; default True.
        init: "kaiming" (default), "pytorch" or another scheme of :meth:`Model.add_linear`.
        seed: seeds the initialisation; default 0.

    Example:
        >>> model = smallnet.fcn([256, 128], dropout=0.2)
    """
    return _fcn(hidden, None, input_shape, classes, dropout, batchnorm, init, seed)


def fcn_for_budget(budget: int, *, input_shape: Sequence[int] | None = None, classes: int | None = None,
                   dropout: float | None = None, batchnorm: bool | None = None, init: str | None = None,
                   seed: int | None = None) -> Model:
    """A fully-connected classifier whose hidden widths (ratio 2:1) are sized so that the
    parameter count lands within ±2 % of ``budget``. Other arguments as for :func:`fcn`.

    Raises:
        InvalidArgumentError: a budget too small for the input shape and classes.

    Example:
        >>> model = smallnet.fcn_for_budget(100_000)
        >>> abs(model.n_params - 100_000) <= 2_000
        True
    """
    return _fcn(None, budget, input_shape, classes, dropout, batchnorm, init, seed)


def _cnn(widths: Sequence[int] | None, budget: int | None, input_shape, classes, head, dropout, init, seed) -> Model:
    params = _builder_params(_lib.sn_cnn_params, _lib_.sn_cnn_params_default, input_shape, classes, dropout, init,
                             seed)
    array = None
    if widths is not None:
        array, params.n_blocks = _widths(widths, "widths")
        params.widths = ctypes.cast(array, ctypes.POINTER(ctypes.c_int32))
    else:
        params.widths = None
        params.n_blocks = 0
        params.param_budget = to_int(budget, "budget", -(2**63), 2**63 - 1)
    if head is not None:
        if head not in HEADS:
            raise InvalidArgumentError(f"head must be 'linear' or 'global_average', got {head!r}")
        params.head = HEADS[head]
    out = new_pointer()
    check(_lib_.sn_model_create_cnn(ctypes.byref(params), ctypes.byref(out)))
    del array  # borrowed only during the call
    return Model._wrap(out.value)


def cnn(widths: Sequence[int], *, input_shape: Sequence[int] | None = None, classes: int | None = None,
        head: str | None = None, dropout: float | None = None, init: str | None = None,
        seed: int | None = None) -> Model:
    """A convolutional classifier with explicit block widths:
    [Conv2d 3×3 (padding 1, no bias) → BatchNorm2d → ReLU → MaxPool2d(2)] per width, then the head.

    Settings left as None take the library's defaults (``sn_cnn_params_default``).

    Args:
        widths: the output channels of each block.
        input_shape: (C, H, W); default (1, 28, 28).
        classes: the number of outputs; default 10.
        head: "linear" (Flatten → Linear, the default) or "global_average"
            (global average pooling → Linear).
        dropout: drop probability before the head's Linear; None: the recipe's choice.
        init: "kaiming" (default), "pytorch" or another scheme of :meth:`Model.add_linear`.
        seed: seeds the initialisation; default 0.

    Example:
        >>> model = smallnet.cnn([16, 32], head="global_average")
    """
    return _cnn(widths, None, input_shape, classes, head, dropout, init, seed)


def cnn_for_budget(budget: int, *, input_shape: Sequence[int] | None = None, classes: int | None = None,
                   head: str | None = None, dropout: float | None = None, init: str | None = None,
                   seed: int | None = None) -> Model:
    """A convolutional classifier whose block widths (ratio 1:2:4) are sized so that the
    parameter count lands within ±2 % of ``budget`` (from 5,000 up). Other arguments as for
    :func:`cnn`.

    Example:
        >>> model = smallnet.cnn_for_budget(100_000)
    """
    return _cnn(None, budget, input_shape, classes, head, dropout, init, seed)
