"""Models: a sequence of layers held by the library, with training, evaluation and checkpoints."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
from collections import namedtuple
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import _lib
from ._handle import (
    Handle,
    float_array,
    float_pointer,
    images_array,
    int64_pointer,
    new_pointer,
    text_array,
    to_flag,
    to_float,
    to_int,
    to_int32,
    to_path,
    to_text,
    to_uint64,
    uint8_pointer,
)
from .callbacks import Callback
from .data import Dataset
from .errors import (
    BadStateError,
    DivergedError,
    InvalidArgumentError,
    NotFoundError,
    ShapeMismatchError,
    check,
    error_for,
)
from .losses import Loss
from .optim import Optimizer
from .preprocessing import Preprocessing, check_inputs
from .training import History, ProgressReporter, schedule_structs, train_defaults

__all__ = ["IncompatibleKeys", "Model", "checkpoint_metadata"]

_lib_ = _lib.lib

LAYER_KINDS = {
    _lib.SN_LAYER_LINEAR: "Linear",
    _lib.SN_LAYER_RELU: "ReLU",
    _lib.SN_LAYER_DROPOUT: "Dropout",
    _lib.SN_LAYER_BATCHNORM1D: "BatchNorm1d",
    _lib.SN_LAYER_FLATTEN: "Flatten",
    _lib.SN_LAYER_CONV2D: "Conv2d",
    _lib.SN_LAYER_MAXPOOL2D: "MaxPool2d",
    _lib.SN_LAYER_AVGPOOL2D: "AvgPool2d",
    _lib.SN_LAYER_BATCHNORM2D: "BatchNorm2d",
    _lib.SN_LAYER_GLOBALAVGPOOL2D: "GlobalAvgPool2d",
    _lib.SN_LAYER_LEAKY_RELU: "LeakyReLU",
    _lib.SN_LAYER_ELU: "ELU",
    _lib.SN_LAYER_GELU: "GELU",
    _lib.SN_LAYER_SILU: "SiLU",
    _lib.SN_LAYER_TANH: "Tanh",
    _lib.SN_LAYER_SIGMOID: "Sigmoid",
    _lib.SN_LAYER_SOFTMAX: "Softmax",
    _lib.SN_LAYER_LOG_SOFTMAX: "LogSoftmax",
    _lib.SN_LAYER_DROPOUT2D: "Dropout2d",
    _lib.SN_LAYER_LAYERNORM: "LayerNorm",
    _lib.SN_LAYER_ADAPTIVEAVGPOOL2D: "AdaptiveAvgPool2d",
}
GELU_APPROXIMATIONS = {"none": _lib.SN_GELU_NONE, "tanh": _lib.SN_GELU_TANH}
INITS = {
    "kaiming": _lib.SN_INIT_KAIMING,
    "pytorch": _lib.SN_INIT_PYTORCH,
    "xavier_uniform": _lib.SN_INIT_XAVIER_UNIFORM,
    "xavier_normal": _lib.SN_INIT_XAVIER_NORMAL,
    "orthogonal": _lib.SN_INIT_ORTHOGONAL,
    "kaiming_fan_out": _lib.SN_INIT_KAIMING_FAN_OUT,
    "kaiming_uniform": _lib.SN_INIT_KAIMING_UNIFORM,
}
HEADS = {"linear": _lib.SN_CNN_HEAD_LINEAR, "global_average": _lib.SN_CNN_HEAD_GLOBAL_AVERAGE}

#: The most epochs one fit may run (the library's limit).
MAX_EPOCHS = 100_000

#: What :meth:`Model.load_state_dict` returns, as in PyTorch.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _init_code(init: str) -> int:
    if init not in INITS:
        raise InvalidArgumentError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    return INITS[init]


def _shape3(shape: Any, name: str = "input_shape") -> tuple[int, int, int]:
    try:
        values = tuple(shape)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be (channels, height, width), got {shape!r}") from None
    if len(values) != 3:
        raise InvalidArgumentError(f"{name} must be (channels, height, width), got {shape!r}")
    c, h, w = (to_int32(v, name) for v in values)
    return c, h, w


_NO_PREPROCESSING = (
    "this model records no preprocessing, so it cannot prepare uint8 pixels: train it on raw pixels, "
    "set model.preprocessing (e.g. smallnet.Preprocessing.fashion_mnist()), or pass float model inputs"
)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class Model(Handle):
    """A feed-forward classifier: layers applied in order to images of shape (C, H, W).

    Build one layer by layer, or with :func:`smallnet.fcn` / :func:`smallnet.fcn_for_budget`, or
    load a checkpoint with :meth:`Model.load`. Parameter names and shapes are PyTorch's
    (``"1.weight"`` of shape (out, in)), so :meth:`state_dict` loads into an equivalent
    ``torch.nn.Sequential``.

    Args:
        input_shape: the per-sample input shape (channels, height, width).

    Shape:
        input (N, C, H, W); output (N, n_outputs) logits.

    Example:
        >>> model = Model(input_shape=(1, 28, 28)).add_flatten().add_linear(128).add_relu().add_linear(10)
        >>> logits = model(np.zeros((4, 1, 28, 28), np.float32))   # (4, 10)
    """

    _noun = "model"

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28)):
        c, h, w = _shape3(input_shape)
        out = new_pointer()
        check(_lib_.sn_model_create(c, h, w, ctypes.byref(out)))
        super().__init__(out.value, _lib_.sn_model_free)

    @classmethod
    def _wrap(cls, pointer: int) -> Model:
        model = cls.__new__(cls)
        Handle.__init__(model, pointer, _lib_.sn_model_free)
        return model

    # ---------------------------------------------------------------------- building ---

    def add_linear(self, out_features: int, bias: bool = True, init: str = "kaiming", seed: int = 0) -> Model:
        """Appends ``Linear(in → out_features)``; ``in`` is the current per-sample size.

        Args:
            out_features: the number of outputs.
            bias: whether the layer has a bias.
            init: "kaiming" (N(0, 2/fan_in) weights), "pytorch" (U(±1/sqrt(fan_in)) weights
                and biases), "xavier_uniform" (U(±sqrt(6/(fan_in+fan_out)))), "xavier_normal"
                (N(0, 2/(fan_in+fan_out))), "orthogonal" (orthonormal rows, or columns when
                tall), "kaiming_fan_out" (N(0, 2/fan_out)) or "kaiming_uniform"
                (U(±sqrt(6/fan_in))); all but "pytorch" start biases at zero.
            seed: seeds the initialisation.

        Shape:
            (N, *) → (N, out_features); parameters ``"<i>.weight"`` (out, in), ``"<i>.bias"`` (out).
        """
        check(_lib_.sn_model_add_linear(self._handle, to_int32(out_features, "out_features"), to_flag(bias, "bias"),
                                        _init_code(init), to_uint64(seed, "seed")))
        return self

    def add_relu(self) -> Model:
        """Appends ReLU: ``y = max(0, x)``."""
        check(_lib_.sn_model_add_relu(self._handle))
        return self

    def add_dropout(self, p: float) -> Model:
        """Appends inverted dropout with drop probability ``p`` in [0, 1) (identity in eval mode)."""
        check(_lib_.sn_model_add_dropout(self._handle, to_float(p, "p")))
        return self

    def add_batchnorm1d(self, momentum: float = 0.1, eps: float = 1e-5, affine: bool = True,
                        track_running_stats: bool = True) -> Model:
        """Appends BatchNorm1d over the current (flat) features.

        Args:
            momentum: running-statistics momentum in [0, 1], as in PyTorch.
            eps: added to the variance (> 0).
            affine: whether the layer has the parameters weight (γ) and bias (β).
            track_running_stats: whether running statistics are kept (as buffers) and used in
                eval mode; without them batch statistics are used in both modes.

        Shape:
            (N, F) → (N, F); parameters ``"<i>.weight"``, ``"<i>.bias"``; buffers
            ``"<i>.running_mean"``, ``"<i>.running_var"``, ``"<i>.num_batches_tracked"``.

        Raises:
            ShapeMismatchError: unless the current output is flat (after Flatten or Linear).
        """
        if affine is True and track_running_stats is True:
            check(_lib_.sn_model_add_batchnorm1d(self._handle, to_float(momentum, "momentum"), to_float(eps, "eps")))
        else:
            check(_lib_.sn_model_add_batchnorm1d_ex(self._handle, to_float(momentum, "momentum"), to_float(eps, "eps"),
                                                    to_flag(affine, "affine"),
                                                    to_flag(track_running_stats, "track_running_stats")))
        return self

    def add_flatten(self) -> Model:
        """Appends Flatten: (N, C, H, W) → (N, C·H·W)."""
        check(_lib_.sn_model_add_flatten(self._handle))
        return self

    def add_conv2d(self, out_channels: int, kernel_size: int, stride: int = 1, padding: int | str = 0, bias: bool = True,
                   init: str = "kaiming", seed: int = 0, dilation: int = 1, groups: int = 1) -> Model:
        """Appends a square 2-D convolution on the current (C, H, W) output.

        Args:
            out_channels: the number of output channels.
            kernel_size: the kernel's height and width (1..15).
            stride: the step between windows (1..15).
            padding: zeros added on each side (0..dilation·(kernel_size−1)), or ``"same"``
                (stride 1; output as large as the input, as PyTorch's ``padding="same"``;
                dilation·(kernel_size − 1) must be even).
            bias: whether the layer has a bias.
            init: a scheme named as for :meth:`add_linear`.
            seed: seeds the initialisation.
            dilation: spacing of the kernel taps (1..15).
            groups: channel groups dividing both channel counts; C gives a depthwise convolution.

        Shape:
            (N, C, H, W) → (N, out_channels, (H + 2·padding − dilation·(kernel_size − 1) − 1)/stride + 1, …);
            parameters ``"<i>.weight"`` (out, C/groups, k, k), ``"<i>.bias"`` (out).

        Raises:
            ShapeMismatchError: the current output is not (C, H, W) or is smaller than the kernel.

        Example:
            >>> model = Model((1, 28, 28)).add_conv2d(16, 3, padding=1).add_relu().add_maxpool2d(2)
            >>> depthwise = Model((8, 14, 14)).add_conv2d(8, 3, padding="same", groups=8).add_conv2d(16, 1)
        """
        if isinstance(padding, str):
            if padding != "same":
                raise InvalidArgumentError(f'padding must be an integer or "same", got {padding!r}')
            padding_code = _lib.SN_PADDING_SAME
        else:
            padding_code = to_int32(padding, "padding")
            if padding_code < 0:
                raise InvalidArgumentError(f'padding must be non-negative or "same", got {padding}')
        if padding_code == _lib.SN_PADDING_SAME or dilation != 1 or groups != 1:
            params = _lib.sn_conv2d_params()
            check(_lib_.sn_conv2d_params_default(ctypes.byref(params)))
            params.out_channels = to_int32(out_channels, "out_channels")
            params.kernel_size = to_int32(kernel_size, "kernel_size")
            params.stride = to_int32(stride, "stride")
            params.padding = padding_code
            params.dilation = to_int32(dilation, "dilation")
            params.groups = to_int32(groups, "groups")
            params.bias = to_flag(bias, "bias")
            params.init = _init_code(init)
            params.seed = to_uint64(seed, "seed")
            check(_lib_.sn_model_add_conv2d_ex(self._handle, ctypes.byref(params)))
            return self
        check(_lib_.sn_model_add_conv2d(self._handle, to_int32(out_channels, "out_channels"),
                                        to_int32(kernel_size, "kernel_size"), to_int32(stride, "stride"),
                                        to_int32(padding, "padding"), to_flag(bias, "bias"), _init_code(init),
                                        to_uint64(seed, "seed")))
        return self

    def add_maxpool2d(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                      ceil_mode: bool = False) -> Model:
        """Appends MaxPool2d: the maximum of each kernel_size × kernel_size window, as PyTorch's
        ``nn.MaxPool2d``.

        Args:
            kernel_size: the window's height and width (1..15).
            stride: the step between windows (1..15); None means kernel_size.
            padding: implicit −∞ added on each side (0..kernel_size/2).
            ceil_mode: round the output size up instead of down (a window starting past the
                input and its left padding is dropped).

        Shape:
            (N, C, H, W) → (N, C, ⌊ or ⌈(H + 2·padding − kernel_size)/stride⌉ + 1, …).
        """
        k, s = to_int32(kernel_size, "kernel_size"), 0 if stride is None else to_int32(stride, "stride")
        if padding == 0 and not ceil_mode:
            check(_lib_.sn_model_add_maxpool2d(self._handle, k, s))
        else:
            check(_lib_.sn_model_add_maxpool2d_ex(self._handle, k, s, to_int32(padding, "padding"),
                                                  to_flag(ceil_mode, "ceil_mode")))
        return self

    def add_avgpool2d(self, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False,
                      count_include_pad: bool = True) -> Model:
        """Appends AvgPool2d: the mean of each kernel_size × kernel_size window, as PyTorch's
        ``nn.AvgPool2d``.

        Args:
            kernel_size: the window's height and width (1..15).
            stride: the step between windows (1..15); None means kernel_size.
            padding: zeros added on each side (0..kernel_size/2).
            ceil_mode: round the output size up instead of down.
            count_include_pad: divide each window by its size within the padded input (PyTorch's
                default) rather than by the input pixels it covers.

        Shape:
            (N, C, H, W) → (N, C, ⌊ or ⌈(H + 2·padding − kernel_size)/stride⌉ + 1, …).
        """
        k, s = to_int32(kernel_size, "kernel_size"), 0 if stride is None else to_int32(stride, "stride")
        if padding == 0 and not ceil_mode and count_include_pad is True:
            check(_lib_.sn_model_add_avgpool2d(self._handle, k, s))
        else:
            check(_lib_.sn_model_add_avgpool2d_ex(self._handle, k, s, to_int32(padding, "padding"),
                                                  to_flag(ceil_mode, "ceil_mode"),
                                                  to_flag(count_include_pad, "count_include_pad")))
        return self

    def add_adaptive_avgpool2d(self, output_size: int | Sequence[int]) -> Model:
        """Appends AdaptiveAvgPool2d: a fixed (h, w) output whatever the input size, as PyTorch's
        ``nn.AdaptiveAvgPool2d``.

        Args:
            output_size: (h, w), or one integer for (h, h); each in 1..4096. Output (i, j)
                averages rows ⌊i·H/h⌋ ..< ⌈(i + 1)·H/h⌉ and the columns alike.

        Shape:
            (N, C, H, W) → (N, C, h, w).

        Example:
            >>> model = Model((3, 32, 32)).add_conv2d(8, 3).add_adaptive_avgpool2d((2, 2)).add_flatten()
        """
        if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
            h = w = output_size
        else:
            try:
                h, w = output_size
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"output_size must be an integer or a pair (h, w), got {output_size!r}") from None
        check(_lib_.sn_model_add_adaptive_avgpool2d(self._handle, to_int32(h, "output_size"), to_int32(w, "output_size")))
        return self

    def add_globalavgpool2d(self) -> Model:
        """Appends global average pooling: (N, C, H, W) → (N, C)."""
        check(_lib_.sn_model_add_globalavgpool2d(self._handle))
        return self

    def add_batchnorm2d(self, momentum: float = 0.1, eps: float = 1e-5, affine: bool = True,
                        track_running_stats: bool = True) -> Model:
        """Appends BatchNorm2d over the channels of the current (C, H, W) output.

        Args:
            momentum: running-statistics momentum in [0, 1], as in PyTorch.
            eps: added to the variance (> 0).
            affine: whether the layer has the parameters weight (γ) and bias (β).
            track_running_stats: whether running statistics are kept (as buffers) and used in
                eval mode; without them batch statistics are used in both modes.

        Shape:
            (N, C, H, W) → (N, C, H, W); tensors named as for :meth:`add_batchnorm1d`, of size C.
        """
        if affine is True and track_running_stats is True:
            check(_lib_.sn_model_add_batchnorm2d(self._handle, to_float(momentum, "momentum"), to_float(eps, "eps")))
        else:
            check(_lib_.sn_model_add_batchnorm2d_ex(self._handle, to_float(momentum, "momentum"), to_float(eps, "eps"),
                                                    to_flag(affine, "affine"),
                                                    to_flag(track_running_stats, "track_running_stats")))
        return self

    def add_leaky_relu(self, negative_slope: float = 0.01) -> Model:
        """Appends LeakyReLU: ``y = x`` for ``x > 0``, ``negative_slope * x`` otherwise.

        Args:
            negative_slope: the slope for negative inputs (finite), as ``nn.LeakyReLU``.

        Example:
            >>> smallnet.Model((1, 28, 28)).add_flatten().add_linear(64).add_leaky_relu(0.1)
        """
        check(_lib_.sn_model_add_leaky_relu(self._handle, to_float(negative_slope, "negative_slope")))
        return self

    def add_elu(self, alpha: float = 1.0) -> Model:
        """Appends ELU: ``y = x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise, as ``nn.ELU``."""
        check(_lib_.sn_model_add_elu(self._handle, to_float(alpha, "alpha")))
        return self

    def add_gelu(self, approximate: str = "none") -> Model:
        """Appends GELU: ``y = x * Φ(x)``, as ``nn.GELU``.

        Args:
            approximate: ``"none"`` (exact, with erf) or ``"tanh"``
                (``0.5 * x * (1 + tanh(sqrt(2/π) * (x + 0.044715 x³)))``).
        """
        if approximate not in GELU_APPROXIMATIONS:
            raise InvalidArgumentError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        check(_lib_.sn_model_add_gelu(self._handle, GELU_APPROXIMATIONS[approximate]))
        return self

    def add_silu(self) -> Model:
        """Appends SiLU: ``y = x * sigmoid(x)``, as ``nn.SiLU``."""
        check(_lib_.sn_model_add_silu(self._handle))
        return self

    def add_tanh(self) -> Model:
        """Appends Tanh: ``y = tanh(x)``, as ``nn.Tanh``."""
        check(_lib_.sn_model_add_tanh(self._handle))
        return self

    def add_sigmoid(self) -> Model:
        """Appends Sigmoid: ``y = 1 / (1 + exp(-x))``, as ``nn.Sigmoid``."""
        check(_lib_.sn_model_add_sigmoid(self._handle))
        return self

    def add_softmax(self) -> Model:
        """Appends Softmax over the features of each sample, as ``nn.Softmax(dim=1)``.

        Shape:
            (N, F) → (N, F); each row sums to 1.

        Raises:
            ShapeMismatchError: unless the current output is flat (after Flatten or Linear).
        """
        check(_lib_.sn_model_add_softmax(self._handle))
        return self

    def add_log_softmax(self) -> Model:
        """Appends LogSoftmax over the features of each sample, as ``nn.LogSoftmax(dim=1)``.

        Shape:
            (N, F) → (N, F): ``x - log(sum(exp(x)))`` per row.

        Raises:
            ShapeMismatchError: unless the current output is flat (after Flatten or Linear).
        """
        check(_lib_.sn_model_add_log_softmax(self._handle))
        return self

    def add_dropout2d(self, p: float = 0.5) -> Model:
        """Appends Dropout2d: whole channels dropped in training mode, as ``nn.Dropout2d``.

        Args:
            p: probability in [0, 1) of zeroing each channel of each sample; the kept channels
                are scaled by ``1 / (1 - p)``. Identity in eval mode.

        Shape:
            (N, C, H, W) → (N, C, H, W).

        Raises:
            ShapeMismatchError: unless the current output is (C, H, W).
        """
        check(_lib_.sn_model_add_dropout2d(self._handle, to_float(p, "p")))
        return self

    def add_layernorm(self, normalized_dims: int = 1, eps: float = 1e-5, elementwise_affine: bool = True) -> Model:
        """Appends LayerNorm over the last ``normalized_dims`` dimensions of each sample.

        Args:
            normalized_dims: how many trailing dimensions of the current output (1 to 3) are
                normalised together; PyTorch's ``normalized_shape`` is those dimensions.
            eps: added to the variance (> 0).
            elementwise_affine: learn ``weight`` (1) and ``bias`` (0) of ``normalized_shape``.

        Shape:
            unchanged; parameters ``"<i>.weight"`` and ``"<i>.bias"`` as ``nn.LayerNorm``.

        Example:
            >>> m = smallnet.Model((1, 28, 28)).add_flatten().add_layernorm().add_linear(10)
        """
        check(_lib_.sn_model_add_layernorm(
            self._handle, to_int32(normalized_dims, "normalized_dims"), to_float(eps, "eps"),
            to_flag(elementwise_affine, "elementwise_affine")))
        return self

    # -------------------------------------------------------------------- properties ---

    @property
    def n_params(self) -> int:
        """Number of trainable parameters (PyTorch's ``sum(p.numel() for p in parameters())``)."""
        out = ctypes.c_int64()
        check(_lib_.sn_model_n_params(self._handle, ctypes.byref(out)))
        return out.value

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The per-sample input shape (C, H, W)."""
        c, h, w = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        check(_lib_.sn_model_input_shape(self._handle, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w)))
        return c.value, h.value, w.value

    @property
    def n_outputs(self) -> int:
        """Number of outputs per sample (the number of classes)."""
        out = ctypes.c_int64()
        check(_lib_.sn_model_n_outputs(self._handle, ctypes.byref(out)))
        return out.value

    @property
    def layers(self) -> list[dict[str, Any]]:
        """One dict per layer: ``index``, ``kind`` ("Linear", "ReLU", "Dropout", "BatchNorm1d",
        "Flatten"), ``summary`` (e.g. "Linear(784 → 117)"), ``output_shape`` (per sample) and
        ``n_params``."""
        count = ctypes.c_size_t()
        check(_lib_.sn_model_n_layers(self._handle, ctypes.byref(count)))
        layers = []
        for index in range(count.value):
            info = _lib.sn_layer_info()
            info.struct_size = ctypes.sizeof(info)
            check(_lib_.sn_model_layer_info(self._handle, index, ctypes.byref(info)))
            layers.append({
                "index": index,
                "kind": LAYER_KINDS.get(info.kind, f"unknown({info.kind})"),
                "summary": info.summary.decode("utf-8", "replace"),
                "output_shape": tuple(int(d) for d in info.shape[: info.rank]),
                "n_params": int(info.n_params),
            })
        return layers

    @property
    def training(self) -> bool:
        """True in training mode (batch statistics, dropout active), False in eval mode."""
        out = ctypes.c_int32()
        check(_lib_.sn_model_is_training(self._handle, ctypes.byref(out)))
        return bool(out.value)

    def train(self, mode: bool = True) -> Model:
        """Switches to training mode (or to eval mode with ``mode=False``); returns self."""
        check(_lib_.sn_model_set_training(self._handle, to_flag(mode, "mode")))
        return self

    def eval(self) -> Model:
        """Switches to eval mode (running statistics, no dropout); returns self."""
        return self.train(False)

    # ------------------------------------------------------ preprocessing and names ---

    @property
    def preprocessing(self) -> Preprocessing | None:
        """How raw uint8 pixels become this model's inputs:
        ``x_model[c] = (x_raw · pixel_scale − mean[c]) / std[c]``; None when not recorded.

        ``fit`` records the training data's when the model has none; checkpoints keep it.
        Settable with a :class:`Preprocessing`, a dict (pixel_scale, mean, std) or None.

        Example:
            >>> model.preprocessing = smallnet.Preprocessing.fashion_mnist()
            >>> model.preprocessing.summary
            '(x/255 − 0.2860)/0.3530'
        """
        out = Preprocessing._empty_struct()
        check(_lib_.sn_model_get_preprocessing(self._handle, ctypes.byref(out)))
        return Preprocessing._from_struct(out)

    @preprocessing.setter
    def preprocessing(self, value: Preprocessing | Mapping[str, Any] | None) -> None:
        settings = Preprocessing.coerce(value)
        check(_lib_.sn_model_set_preprocessing(self._handle,
                                               None if settings is None else ctypes.byref(settings._struct())))

    @property
    def class_names(self) -> list[str]:
        """One name per output class (their numbers as text when unnamed). ``fit`` records the
        training data's names when the model has none; checkpoints keep them. Settable: one
        name per output, or None to forget them."""
        buffer = ctypes.create_string_buffer(256)
        names = []
        for index in range(self.n_outputs):
            check(_lib_.sn_model_class_name(self._handle, index, buffer, len(buffer)))
            names.append(buffer.value.decode("utf-8", "replace"))
        return names

    @class_names.setter
    def class_names(self, names: Sequence[str] | None) -> None:
        array, n = text_array(names, "class_names")
        check(_lib_.sn_model_set_class_names(self._handle, array, n))

    # ----------------------------------------------------------------------- tensors ---

    def tensor_info(self) -> list[dict[str, Any]]:
        """The named tensors in state-dict order: dicts with ``name``, ``shape``, ``count``,
        ``trainable`` (False for buffers such as running statistics)."""
        count = ctypes.c_size_t()
        check(_lib_.sn_model_n_tensors(self._handle, ctypes.byref(count)))
        infos = []
        for index in range(count.value):
            info = _lib.sn_tensor_info()
            info.struct_size = ctypes.sizeof(info)
            check(_lib_.sn_model_tensor_info(self._handle, index, ctypes.byref(info)))
            infos.append({
                "name": info.name.decode("utf-8"),
                "shape": tuple(int(d) for d in info.shape[: info.rank]),
                "count": int(info.count),
                "trainable": bool(info.trainable),
            })
        return infos

    def _info(self, name: str) -> dict[str, Any] | None:
        for info in self.tensor_info():
            if info["name"] == name:
                return info
        return None

    def _copy_out(self, function, name: Any) -> np.ndarray:
        key = to_text(name, "name")
        info = self._info(name)
        if info is None:
            # Let the library say what is wrong with the name.
            probe = np.empty(1, dtype=np.float32)
            check(function(self._handle, key, float_pointer(probe), 0))
            raise NotFoundError(f"no tensor named {name!r}")
        out = np.empty(info["count"], dtype=np.float32)
        check(function(self._handle, key, float_pointer(out), out.size))
        return out.reshape(info["shape"])

    def get_tensor(self, name: str) -> np.ndarray:
        """A copy of tensor ``name`` as float32 in its PyTorch shape.

        Raises:
            NotFoundError: no tensor of that name.
        """
        return self._copy_out(_lib_.sn_model_get_tensor, name)

    def set_tensor(self, name: str, value: Any) -> None:
        """Overwrites tensor ``name`` with ``value`` of the tensor's shape (a flat array of its
        size is also taken; a scalar for a one-element tensor); values must be finite.

        Raises:
            NotFoundError: no tensor of that name.
            ShapeMismatchError: another shape (a transposed matrix, say) or number of elements.
            InvalidArgumentError: non-finite or non-numeric values.
        """
        key = to_text(name, "name")
        array = float_array(value, "value")
        info = self._info(name)
        if info is not None and array.shape != info["shape"] and array.ndim > 1:
            raise ShapeMismatchError(f"{name} has shape {info['shape']}, the value {array.shape}")
        check(_lib_.sn_model_set_tensor(self._handle, key, float_pointer(array), array.size))

    def grad(self, name: str) -> np.ndarray:
        """A copy of the gradient of trainable parameter ``name``, in the parameter's shape."""
        return self._copy_out(_lib_.sn_model_get_grad, name)

    def set_grad(self, name: str, value: Any) -> None:
        """Overwrites the gradient of trainable parameter ``name`` with ``value`` (the
        parameter's shape, or flat; finite values), e.g. to step an optimizer on gradients
        computed elsewhere.

        Raises:
            NotFoundError: no tensor of that name.
            InvalidArgumentError: a buffer (no gradient), or non-finite values.
            ShapeMismatchError: another shape or number of elements.

        Example:
            >>> model.set_grad("0.weight", np.ones((16, 64))); optimizer.step()
        """
        key = to_text(name, "name")
        array = float_array(value, "value")
        info = self._info(name)
        if info is not None and array.shape != info["shape"] and array.ndim > 1:
            raise ShapeMismatchError(f"{name} has shape {info['shape']}, the value {array.shape}")
        check(_lib_.sn_model_set_grad(self._handle, key, float_pointer(array), array.size))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every named tensor, in the library's (PyTorch's) order.

        Returns:
            name → numpy array in PyTorch shape: float32, except ``*.num_batches_tracked``,
            an int64 scalar array as PyTorch stores it.

        Example:
            >>> sd = model.state_dict()
            >>> torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        """
        state: dict[str, np.ndarray] = {}
        for info in self.tensor_info():
            name = info["name"]
            out = np.empty(info["count"], dtype=np.float32)
            check(_lib_.sn_model_get_tensor(self._handle, name.encode("utf-8"), float_pointer(out), out.size))
            value = out.reshape(info["shape"])
            if name.endswith("num_batches_tracked"):
                value = np.array(int(np.rint(value.reshape(-1)[0])) if value.size else 0, dtype=np.int64)
            state[name] = value
        return state

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copies tensors from ``state`` (numpy arrays, or anything ``np.asarray`` accepts,
        torch tensors included) into the model. Nothing changes unless all of them fit.

        Args:
            state: name → array, as from :meth:`state_dict`.
            strict: require exactly the model's names.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            InvalidArgumentError: with ``strict``, missing or unexpected names; non-finite values.
            ShapeMismatchError: a tensor of another shape.
        """
        if not isinstance(state, Mapping):
            raise InvalidArgumentError(f"state must be a mapping of names to arrays, got {type(state).__name__}")
        infos = self.tensor_info()
        names = [info["name"] for info in infos]
        missing = [name for name in names if name not in state]
        unexpected = [key for key in state if key not in names]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise InvalidArgumentError("error loading state dict: " + "; ".join(parts))
        arrays = []
        for info in infos:
            name = info["name"]
            if name not in state:
                continue
            value = state[name]
            if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
                value = value.detach().cpu().numpy()
            array = float_array(value, name)
            if array.shape != info["shape"] and not (array.size == info["count"] == 1):
                raise ShapeMismatchError(
                    f"{name}: the model's tensor has shape {info['shape']}, the state's {array.shape}"
                )
            if not np.isfinite(array).all():
                raise InvalidArgumentError(f"{name} holds non-finite values")
            arrays.append((name, array))
        for name, array in arrays:
            check(_lib_.sn_model_set_tensor(self._handle, name.encode("utf-8"), float_pointer(array), array.size))
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------- low-level loop ---

    def _images(self, x: Any, name: str = "x") -> np.ndarray:
        """Images for this model as (N, C, H, W), uint8 or float32, following the shape rule:
        (N, C·H·W), (N, H, W) for one channel, (N, C, H, W), or one image (C, H, W)."""
        return images_array(x, self.input_shape, name)

    def output_shape(self) -> tuple[int, ...]:
        """The per-sample output shape: (n_outputs,) for a classifier, (C, H, W) after a
        convolution or pooling layer."""
        count = ctypes.c_size_t()
        check(_lib_.sn_model_n_layers(self._handle, ctypes.byref(count)))
        if count.value == 0:
            return self.input_shape
        info = _lib.sn_layer_info()
        info.struct_size = ctypes.sizeof(info)
        check(_lib_.sn_model_layer_info(self._handle, count.value - 1, ctypes.byref(info)))
        return tuple(int(d) for d in info.shape[: info.rank])

    def forward(self, x: Any) -> np.ndarray:
        """Forward pass in the current mode (see :meth:`train` / :meth:`eval`).

        Args:
            x: images (N, C·H·W), (N, H, W) for one channel, (N, C, H, W), or one image
                (C, H, W). Floats are model inputs, used as given; uint8 pixels are prepared
                with the model's :attr:`preprocessing`.

        Shape:
            returns logits (N, n_outputs); one image gives (1, n_outputs). A model ending in a
            convolution or pooling layer returns (N, C', H', W').

        Raises:
            ShapeMismatchError: an input that does not fit the model.
            InvalidArgumentError: N = 0, or a batch that leaves a BatchNorm one value per channel
                for its batch statistics (a training batch of one through BatchNorm1d, as PyTorch;
                BatchNorm2d takes it when H·W > 1).
            BadStateError: uint8 pixels for a model that records no preprocessing.
        """
        array = self._images(x)
        if array.dtype == np.uint8:
            preprocessing = self.preprocessing
            if preprocessing is None:
                raise BadStateError(_NO_PREPROCESSING)
            array = preprocessing.apply(array)
        n = array.shape[0]
        out = np.empty((n, *self.output_shape()), dtype=np.float32)
        check(_lib_.sn_model_forward(self._handle, float_pointer(array), n, float_pointer(out), out.size))
        return out

    __call__ = forward

    def backward(self, dlogits: Any) -> None:
        """Back-propagates ``dlogits`` for the last forward's samples, accumulating gradients.

        Shape:
            dlogits (N, n_outputs) (or (N, *output_shape)), N as in the last forward.

        Raises:
            BadStateError: no forward since the model was created, loaded or changed.
            ShapeMismatchError: another N or number of outputs.
        """
        array = float_array(dlogits, "dlogits")
        outputs = self.n_outputs
        if array.ndim < 2 or int(np.prod(array.shape[1:])) != outputs:
            raise ShapeMismatchError(f"dlogits must be (N, {outputs}), got shape {array.shape}")
        check(_lib_.sn_model_backward(self._handle, float_pointer(array), array.shape[0]))

    def zero_grad(self) -> None:
        """Sets every parameter gradient to zero."""
        check(_lib_.sn_model_zero_grad(self._handle))

    # ---------------------------------------------------------------------- training ---

    def fit(
        self,
        x: Dataset | Any,
        y: Any = None,
        optimizer: Optimizer | None = None,
        *,
        epochs: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        schedule: str | Mapping[str, Any] | None = None,
        label_smoothing: float | None = None,
        crop_padding: int | None = None,
        horizontal_flip: bool | None = None,
        threads: int | None = None,
        clip_grad_norm: float | None = None,
        clip_grad_value: float | None = None,
        validation_data: Dataset | tuple[Any, Any] | None = None,
        validation: Dataset | tuple[Any, Any] | None = None,
        callbacks: Sequence[Callback] | None = None,
        progress: bool | Callable[[dict[str, Any]], Any] = True,
        recipe: str | None = None,
        loss: Loss | str | None = None,
    ) -> History:
        """Trains the model; every setting left as None takes the recipe's default (for "fcn",
        ``sn_train_params_default``: 30 epochs, batch 64, cosine schedule with one warm-up
        epoch, label smoothing 0.1, no augmentation).

        A model that records no preprocessing or class names takes the training data's.

        Args:
            x: the training data: a :class:`Dataset`, or images (uint8 raw pixels or float
                model inputs) shaped as for :meth:`predict`.
            y: the labels (N integers in ``0..n_outputs-1``) when ``x`` is an array. For a
                Dataset, the second argument may be the optimizer, as in ``fit(train, opt)``.
            optimizer: an optimizer over this model; None means the recipe's
                (``Optimizer.from_recipe``; for "fcn" ``AdamW(self, lr=0.002)``).
            epochs, batch_size, seed: as named; the seed drives shuffling, dropout and augmentation.
            schedule: "constant", "step", "cosine", "exponential", "one-cycle", "plateau" (needs
                validation data) or a dict with kind and its settings, named as PyTorch's
                schedulers name them (see :func:`smallnet.schedule_lr`; fields left out keep
                the default schedule's).
            label_smoothing: in [0, 1).
            crop_padding: random-crop padding in pixels (0: none).
            horizontal_flip: random horizontal flips.
            threads: threads for this run (0: :func:`smallnet.get_num_threads`).
            clip_grad_norm: before each step, scale the gradients to this total 2-norm at most
                (``torch.nn.utils.clip_grad_norm_``; 0 or None: off).
            clip_grad_value: before each step, clamp each gradient element to ±this, before
                any norm clipping (``torch.nn.utils.clip_grad_value_``; 0 or None: off).
            validation_data: evaluated after each epoch: a Dataset or ``(images, labels)``.
            validation: another name for ``validation_data``.
            callbacks: objects of :mod:`smallnet.callbacks` (or with the same hooks), called
                at each epoch's end; one may stop training.
            progress: True for a tqdm bar per epoch, False for silence, or a callable receiving
                a dict (epoch, epochs, step, steps_per_epoch, loss, learning_rate,
                images_per_second, epoch_end, and at an epoch's end train_loss,
                train_accuracy, eval_loss, eval_accuracy, epoch_seconds) that returns
                False to stop training early.
            recipe: whose defaults fill in what is left as None: "fcn", or "cnn" (30 epochs,
                random flips and, from 15,000 parameters up, 1-pixel crops; SGD lr 0.05
                momentum 0.9), for a model of this one's size. None: "cnn" for a model with a
                Conv2d layer, else "fcn".
            loss: the training loss: a :class:`smallnet.losses.Loss` or a kind's name ("mse", …);
                None: cross-entropy smoothed by ``label_smoothing``. Cross-entropy is smoothed
                by ``label_smoothing`` (the recipe's unless given) or, when it sets one, by the
                Loss's own ``label_smoothing``. Cross-entropy and NLL use
                the labels (NLL expects log-probabilities, after a LogSoftmax); the other
                losses train against the labels' one-hot encoding and ignore
                ``label_smoothing``. Accuracy stays the share of samples whose largest output
                is the label; the validation loss is this loss. Reduction "none" is refused.

        Returns:
            a :class:`History`, one dict per completed epoch (``history.history``: Keras' dict
            of lists). The model is left in training mode.

        Raises:
            DivergedError: the loss became NaN or infinite (``error.history`` holds the epochs so far).
            Any exception raised by the ``progress`` callable or a callback, after training stopped.

        Example:
            >>> history = model.fit(train, AdamW(model, lr=2e-3), epochs=10, validation=test)
            >>> history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=10)
            >>> history.history["val_accuracy"][-1]
        """
        if isinstance(y, Optimizer) and optimizer is None:  # fit(train, optimizer), as before
            y, optimizer = None, y
        if validation is not None:
            if validation_data is not None:
                raise InvalidArgumentError("give validation_data or validation, not both")
            validation_data = validation
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise InvalidArgumentError(f"optimizer must be a smallnet optimizer, got {type(optimizer).__name__}")
        callbacks = list(callbacks or [])
        for callback in callbacks:
            if not callable(getattr(callback, "on_epoch_end", None)):
                raise InvalidArgumentError(
                    f"callbacks must have on_epoch_end(epoch, logs), got {type(callback).__name__}"
                )
        if recipe is None:
            recipe = "cnn" if any(layer["kind"] == "Conv2d" for layer in self.layers) else "fcn"
        params = train_defaults(recipe, budget=self.n_params)
        if epochs is not None:
            params.epochs = to_int32(epochs, "epochs")
        if batch_size is not None:
            params.batch_size = to_int32(batch_size, "batch_size")
        if seed is not None:
            params.seed = to_uint64(seed, "seed")
        params.schedule, schedule_options = schedule_structs(schedule, params.schedule)
        if label_smoothing is not None:
            params.label_smoothing = to_float(label_smoothing, "label_smoothing")
        if crop_padding is not None:
            params.crop_padding = to_int32(crop_padding, "crop_padding")
        if horizontal_flip is not None:
            params.horizontal_flip = to_flag(horizontal_flip, "horizontal_flip")
        if threads is not None:
            params.threads = to_int32(threads, "threads")
        options = _lib.sn_train_options()
        options.struct_size = ctypes.sizeof(_lib.sn_train_options)
        check(_lib_.sn_train_options_default(ctypes.byref(options)))
        options.schedule = schedule_options
        if clip_grad_norm is not None:
            options.clip_grad_norm = to_float(clip_grad_norm, "clip_grad_norm")
        if clip_grad_value is not None:
            options.clip_grad_value = to_float(clip_grad_value, "clip_grad_value")
        if loss is not None:
            loss = loss if isinstance(loss, Loss) else Loss(loss)
            if loss.kind == "cross_entropy" and loss.label_smoothing != 0:
                if label_smoothing is not None and float(np.float32(label_smoothing)) != loss.label_smoothing:
                    raise InvalidArgumentError(
                        f"label_smoothing={label_smoothing} disagrees with the loss's {loss.label_smoothing}")
                params.label_smoothing = loss.label_smoothing
            options.loss = loss.params()  # borrows loss's weight arrays: loss lives until fit returns
        reporter = ProgressReporter(progress, callbacks, self)

        with contextlib.ExitStack() as owned:
            train = self._dataset(x, y, "x", owned)
            validation_set = None
            if validation_data is not None:
                # Raw validation pixels are prepared as the training data will be.
                settings = self.preprocessing or train.preprocessing
                validation_set = self._dataset(validation_data, None, "validation_data", owned, settings)
            params.validation = validation_set._handle if validation_set is not None else None
            if optimizer is None:
                optimizer = owned.enter_context(Optimizer.from_recipe(self, recipe))
            for callback in callbacks:
                callback.model = self
                callback.params = {"epochs": int(params.epochs), "batch_size": int(params.batch_size)}
            self.stop_training = False
            for callback in callbacks:
                getattr(callback, "on_train_begin", lambda logs=None: None)()
            # The library refuses more than MAX_EPOCHS; ask it rather than allocate for more.
            capacity = min(max(int(params.epochs), 0), MAX_EPOCHS + 1)
            records = (_lib.sn_epoch_record * max(capacity, 1))()
            n_epochs = ctypes.c_size_t()
            try:
                with reporter.catching_interrupts():
                    status = _lib_.sn_fit_with_options(
                        self._handle, optimizer._handle, train._handle, ctypes.byref(params),
                        ctypes.byref(options), reporter.c_callback, None, records, capacity,
                        ctypes.byref(n_epochs))
                    error = error_for(status) if status != _lib.SN_OK else None
            finally:
                reporter.close()
        history = History.from_records(records, min(n_epochs.value, capacity))
        if reporter.stopped_in_epoch is not None:  # only completed epochs
            history = History(e for e in history if e["epoch"] != reporter.stopped_in_epoch)
        if reporter.error is not None:
            raise reporter.error
        for callback in callbacks:
            getattr(callback, "on_train_end", lambda logs=None: None)()
        if error is not None:
            if isinstance(error, DivergedError):
                error.history = history
            raise error
        return history

    def _dataset(self, x: Any, y: Any, name: str, owned: contextlib.ExitStack,
                 preprocessing: Preprocessing | None = None) -> Dataset:
        """``x`` when it is a Dataset; else a temporary one (closed with ``owned``) from images
        ``x`` and labels ``y``, or from a pair ``(images, labels)`` when ``y`` is None.
        Raw pixels keep bytes; float inputs are checked against the model's preprocessing."""
        if isinstance(x, Dataset):
            if y is not None:
                raise InvalidArgumentError(f"{name} is a Dataset, which holds its labels; pass no labels with it")
            return x
        if y is None:
            if not (isinstance(x, (tuple, list)) and len(x) == 2):
                raise InvalidArgumentError(
                    f"{name} must be a smallnet.Dataset, or images with their labels; got {type(x).__name__}"
                )
            x, y = x
        images = self._images(x, name)
        check_inputs(images, self.preprocessing)
        if images.dtype == np.uint8:
            settings = self.preprocessing or preprocessing
        else:
            settings = None
        return owned.enter_context(Dataset._from_arrays(images, y, self.n_outputs, None, settings))

    def evaluate(self, x: Dataset | Any, y: Any = None) -> dict[str, Any]:
        """Evaluates in eval mode (the mode is restored).

        Args:
            x: a :class:`Dataset`, or images shaped as for :meth:`predict`.
            y: the labels when ``x`` is an array.

        Returns:
            dict with ``loss``, ``accuracy``, ``confusion`` (int64 (C, C), rows the true class,
            columns the predicted one) and ``per_class_accuracy`` (C,) (NaN for a class
            without samples).

        Example:
            >>> model.evaluate(test)["accuracy"]
            0.8712
            >>> model.evaluate(x_test, y_test)["loss"]
        """
        with contextlib.ExitStack() as owned:
            data = self._dataset(x, y, "x", owned)
            classes = data.classes
            loss, accuracy = ctypes.c_float(), ctypes.c_float()
            confusion = np.zeros((classes, classes), dtype=np.int64)
            check(_lib_.sn_evaluate(self._handle, data._handle, ctypes.byref(loss), ctypes.byref(accuracy),
                                    int64_pointer(confusion), confusion.size))
        totals = confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)
        return {"loss": loss.value, "accuracy": accuracy.value, "confusion": confusion,
                "per_class_accuracy": per_class}

    def score(self, x: Dataset | Any, y: Any = None) -> float:
        """The accuracy on a Dataset, or on images ``x`` with labels ``y``:
        ``evaluate(x, y)["accuracy"]``."""
        return float(self.evaluate(x, y)["accuracy"])

    def predict(self, x: Dataset | Any, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (softmax) in eval mode; the mode is restored.

        Args:
            x: a :class:`Dataset`, or images (N, C·H·W), (N, H, W) for one channel,
                (N, C, H, W), or one image (C, H, W). uint8 arrays are raw pixels, prepared
                with the model's :attr:`preprocessing` inside the library (no float copy);
                float arrays are model inputs, used as given. Inputs whose statistics are far
                from what the model expects give an :class:`~smallnet.InputStatisticsWarning`.
            batch_size: for float arrays, how many images go through one forward.

        Shape:
            returns (N, n_outputs) float32, rows summing to 1.

        Raises:
            BadStateError: uint8 pixels for a model that records no preprocessing.

        Example:
            >>> probabilities = model.predict(raw_images)          # uint8 (N, 28, 28)
            >>> model.class_names[probabilities[0].argmax()]
            'Ankle boot'
        """
        if isinstance(x, Dataset):
            out = np.empty((len(x), self.n_outputs), dtype=np.float32)
            check(_lib_.sn_predict(self._handle, x._handle, float_pointer(out), out.size))
            return out
        images = self._images(x)
        check_inputs(images, self.preprocessing)
        n = images.shape[0]
        if images.dtype == np.uint8:
            out = np.empty((n, self.n_outputs), dtype=np.float32)
            check(_lib_.sn_model_predict_u8(self._handle, uint8_pointer(images), n, float_pointer(out), out.size))
            return out
        step = to_int(batch_size, "batch_size", 1, 2**31 - 1)
        was_training = self.training
        self.eval()
        try:
            parts = [self.forward(images[i : i + step]) for i in range(0, max(n, 1), step)]
        finally:
            self.train(was_training)
        return _softmax(np.concatenate(parts, axis=0))

    def predict_classes(self, x: Dataset | Any) -> np.ndarray:
        """The most probable class of each image, as indices (``model.class_names`` names them).

        Shape:
            returns (N,) int64.
        """
        return self.predict(x).argmax(axis=1)

    # ------------------------------------------------------------------- checkpoints ---

    def save(self, path: str | os.PathLike, training_config: Mapping[str, Any] | str | None = None) -> None:
        """Saves a ``.safetensors`` checkpoint (PyTorch names, F32), written atomically, with the
        model's preprocessing and class names in its metadata.

        Args:
            path: the file to write.
            training_config: stored under ``"smallnet.training_config"``; a dict is JSON-encoded.

        Raises:
            SmallNetIOError: the file cannot be written.

        Example:
            >>> model.save("fcn.safetensors", {"epochs": 30, "lr": 0.002})
        """
        target = to_path(path)
        check(_lib_.sn_model_save(self._handle, target, _config_text(training_config)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """Loads a checkpoint written by :meth:`save`, in eval mode, with its preprocessing and
        class names.

        Raises:
            NotFoundError: no such file.
            SmallNetIOError: a malformed or foreign file.
        """
        out = new_pointer()
        check(_lib_.sn_model_load(to_path(path), ctypes.byref(out)))
        return cls._wrap(out.value)

    # ------------------------------------------------------------- copies and pickles ---

    def copy(self) -> Model:
        """An independent copy: architecture, weights, BatchNorm statistics, mode,
        preprocessing and class names (``copy.copy`` and ``copy.deepcopy`` give the same).

        Example:
            >>> snapshot = model.copy()
        """
        out = new_pointer()
        check(_lib_.sn_model_clone(self._handle, ctypes.byref(out)))
        return type(self)._wrap(out.value)

    def __copy__(self) -> Model:
        return self.copy()

    def __deepcopy__(self, memo: dict) -> Model:
        return self.copy()

    def to_bytes(self, training_config: Mapping[str, Any] | str | None = None) -> bytes:
        """The checkpoint :meth:`save` would write, as bytes (:meth:`from_bytes` reads them)."""
        config = _config_text(training_config)
        length = ctypes.c_size_t()
        capacity = 0
        for _ in range(3):
            buffer = (ctypes.c_uint8 * max(capacity, 1))()
            status = _lib_.sn_model_save_to_buffer(self._handle, config, buffer, capacity, ctypes.byref(length))
            if status == _lib.SN_OK:
                return bytes(memoryview(buffer)[: length.value])
            if status != _lib.SN_ERR_SHAPE_MISMATCH or length.value <= capacity:
                raise error_for(status)
            capacity = length.value
        raise BadStateError("the checkpoint kept growing while it was written")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Model:
        """Loads a checkpoint from its bytes (as written by :meth:`to_bytes` or :meth:`save`), in
        eval mode.

        Raises:
            SmallNetIOError: malformed bytes.
        """
        try:
            view = memoryview(data).cast("B")
        except TypeError:
            raise InvalidArgumentError(f"data must be bytes, got {type(data).__name__}") from None
        buffer = (ctypes.c_uint8 * max(len(view), 1)).from_buffer_copy(view if len(view) else b"\0")
        out = new_pointer()
        check(_lib_.sn_model_load_from_buffer(buffer, len(view), ctypes.byref(out)))
        return cls._wrap(out.value)

    def __reduce__(self):
        # Pickles as the checkpoint's bytes and the mode: another process gets the same model.
        return _unpickle_model, (self.to_bytes(), self.training)

    # ----------------------------------------------------------------------- display ---

    def __repr__(self) -> str:
        if self.closed:
            return "Model(closed)"
        lines = [f"Model(input_shape={self.input_shape}, n_params={self.n_params:,}, "
                 f"{'training' if self.training else 'eval'})"]
        for layer in self.layers:
            params = f"{layer['n_params']:,}" if layer["n_params"] else ""
            lines.append(f"  ({layer['index']}) {layer['summary']:<28} {str(layer['output_shape']):<12} {params}")
        return "\n".join(lines)


def _unpickle_model(data: bytes, training: bool) -> Model:
    return Model.from_bytes(data).train(training)


def _config_text(training_config: Mapping[str, Any] | str | None) -> bytes | None:
    """A training config as the library stores it: JSON for a mapping, the text itself for a str."""
    if training_config is None:
        return None
    if isinstance(training_config, Mapping):
        try:
            text = json.dumps(training_config, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise InvalidArgumentError(f"training_config cannot be JSON-encoded: {error}") from None
    else:
        text = training_config
    return to_text(text, "training_config")


def checkpoint_metadata(path: str | os.PathLike, key: str) -> str:
    """Metadata entry ``key`` of a checkpoint: "smallnet.architecture" (JSON),
    "smallnet.version", "smallnet.training_config", "smallnet.preprocessing" (JSON: pixel_scale,
    mean, std) or "smallnet.class_names" (a JSON list).

    Raises:
        NotFoundError: no such file or no such key.
        SmallNetIOError: a malformed file.

    Example:
        >>> json.loads(checkpoint_metadata("fcn.safetensors", "smallnet.training_config"))
    """
    target, name = to_path(path), to_text(key, "key")
    capacity = 4096
    for _ in range(3):
        buffer = ctypes.create_string_buffer(capacity)
        length = ctypes.c_size_t()
        status = _lib_.sn_checkpoint_metadata(target, name, buffer, capacity, ctypes.byref(length))
        if status == _lib.SN_OK:
            return buffer.raw[: length.value].decode("utf-8", "replace")
        if status == _lib.SN_ERR_SHAPE_MISMATCH and length.value >= capacity:
            capacity = length.value + 1
            continue
        raise error_for(status)
    raise BadStateError(f"metadata {key!r} kept growing while it was read")
