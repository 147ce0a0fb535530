"""Preprocessing: how raw pixels become a model's inputs, and the check that inputs look right.

The rule for inputs, everywhere in smallnet:

- Raw pixels are uint8 (bytes). A model applies **its own preprocessing** to them:
  ``x_model[c] = (x_raw · pixel_scale − mean[c]) / std[c]``.
- Float inputs are **model inputs**: already preprocessed, used as given.

A model records its preprocessing (``fit`` takes the training data's when the model has none)
and keeps it in its checkpoints.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import _lib
from .errors import InputStatisticsWarning, InvalidArgumentError

__all__ = ["Preprocessing"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _f32(value: Any, name: str) -> float:
    """``value`` rounded to a 32-bit float, as the library stores it."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}")
    try:
        return float(np.float32(float(value)))
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}") from None


def _f32_tuple(values: Any, name: str) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)):
        raise InvalidArgumentError(f"{name} must be a number or a sequence of numbers, got {values!r}")
    if not hasattr(values, "__iter__"):
        values = (values,)
    return tuple(_f32(v, name) for v in np.asarray(values, dtype=object).reshape(-1))


def _short(value: float) -> str:
    """A 32-bit float in its shortest form: 0.286."""
    return str(np.float32(value))


@dataclass(frozen=True)
class Preprocessing:
    """How raw uint8 pixels become model inputs, per channel c:
    ``x_model[c] = (x_raw · pixel_scale − mean[c]) / std[c]``.

    Values are kept as the library keeps them (32-bit floats). ``mean`` and ``std`` hold one
    entry for all channels or one per channel.

    Args:
        pixel_scale: raw value → scaled value (1/255 for 8-bit pixels); > 0.
        mean: a number or one per channel.
        std: a number or one per channel; > 0.

    Raises:
        InvalidArgumentError: a non-positive scale or std, non-finite values, mean and std of
            different lengths, more than 16 channels.

    Example:
        >>> p = Preprocessing(1 / 255, 0.2860, 0.3530)
        >>> p == Preprocessing.fashion_mnist(), p.summary
        (True, '(x/255 − 0.2860)/0.3530')
    """

    pixel_scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __post_init__(self):
        scale = _f32(self.pixel_scale, "pixel_scale")
        mean, std = _f32_tuple(self.mean, "mean"), _f32_tuple(self.std, "std")
        if not (math.isfinite(scale) and scale > 0):
            raise InvalidArgumentError(f"pixel_scale must be finite and positive, got {self.pixel_scale!r}")
        if not 1 <= len(mean) <= _lib.SN_MAX_CHANNELS or len(mean) != len(std):
            raise InvalidArgumentError(
                f"mean and std need the same number of entries, 1 to {_lib.SN_MAX_CHANNELS}, "
                f"got {len(mean)} and {len(std)}"
            )
        if not all(math.isfinite(m) for m in mean):
            raise InvalidArgumentError(f"mean must be finite, got {mean}")
        if not all(math.isfinite(s) and s > 0 for s in std):
            raise InvalidArgumentError(f"std must be finite and positive, got {std}")
        object.__setattr__(self, "pixel_scale", scale)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def fashion_mnist(cls) -> Preprocessing:
        """FashionMNIST's: ``(x/255 − 0.2860)/0.3530``, the statistics of its training images."""
        return cls(_lib.SN_FASHION_MNIST_PIXEL_SCALE, _lib.SN_FASHION_MNIST_MEAN, _lib.SN_FASHION_MNIST_STD)

    @classmethod
    def identity(cls) -> Preprocessing:
        """Inputs used as given (scale 1, mean 0, std 1): what a model trained on floats records."""
        return cls(1.0, 0.0, 1.0)

    @property
    def is_identity(self) -> bool:
        """True for scale 1, mean 0, std 1."""
        return self == Preprocessing.identity()

    @property
    def summary(self) -> str:
        """The formula in words: ``"(x/255 − 0.2860)/0.3530"``."""
        if self.is_identity:
            return "x (used as given)"
        if self.pixel_scale == 1:
            scaled = "x"
        elif self.pixel_scale == _f32(1 / 255, "pixel_scale"):
            scaled = "x/255"
        else:
            scaled = f"x·{_short(self.pixel_scale)}"

        def numbers(values: tuple[float, ...]) -> str:
            text = [f"{v:.4f}" if abs(v - round(v, 4)) < 1e-7 else _short(v) for v in values]
            return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"

        return f"({scaled} − {numbers(self.mean)})/{numbers(self.std)}"

    def apply(self, pixels: Any) -> np.ndarray:
        """Prepares raw pixels as the model sees them, in float32.

        Shape:
            pixels (N, C, H, W) → (N, C, H, W).

        Example:
            >>> Preprocessing.fashion_mnist().apply(np.zeros((1, 1, 28, 28), np.uint8))[0, 0, 0, 0]
            -0.8101983
        """
        x = np.asarray(pixels)
        if x.ndim != 4:
            raise InvalidArgumentError(f"pixels must be (N, C, H, W), got shape {x.shape}")
        a, b = self._coefficients(x.shape[1])
        return x.astype(np.float32) * a[None, :, None, None] + b[None, :, None, None]

    def _coefficients(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """x_model = x_raw · a + b per channel, with a = scale/std and b = −mean/std in float32,
        as the library computes them."""
        mean = np.array(self.mean * channels if len(self.mean) == 1 else self.mean, np.float32)
        std = np.array(self.std * channels if len(self.std) == 1 else self.std, np.float32)
        inv = np.float32(1) / std
        return np.float32(self.pixel_scale) * inv, -mean * inv

    def __repr__(self) -> str:
        scale = "1/255" if self.pixel_scale == _f32(1 / 255, "pixel_scale") else _short(self.pixel_scale)
        mean = ", ".join(_short(v) for v in self.mean)
        std = ", ".join(_short(v) for v in self.std)
        return f"Preprocessing(pixel_scale={scale}, mean=({mean},), std=({std},))"

    # ------------------------------------------------------------- the C struct ---

    def _struct(self) -> _lib.sn_preprocessing:
        out = _lib.sn_preprocessing()
        out.struct_size = ctypes.sizeof(out)
        out.known = 1
        out.pixel_scale = self.pixel_scale
        out.channels = len(self.mean)
        for i, (m, s) in enumerate(zip(self.mean, self.std)):
            out.mean[i], out.std[i] = m, s
        return out

    @staticmethod
    def _empty_struct() -> _lib.sn_preprocessing:
        out = _lib.sn_preprocessing()
        out.struct_size = ctypes.sizeof(out)
        return out

    @classmethod
    def _from_struct(cls, s: _lib.sn_preprocessing) -> Preprocessing | None:
        if not s.known:
            return None
        n = int(s.channels)
        return cls(float(s.pixel_scale), tuple(s.mean[:n]), tuple(s.std[:n]))

    @classmethod
    def coerce(cls, value: Preprocessing | Mapping[str, Any] | None,
               name: str = "preprocessing") -> Preprocessing | None:
        """A Preprocessing from itself, a dict with pixel_scale/mean/std, or None."""
        if value is None or isinstance(value, Preprocessing):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"pixel_scale", "mean", "std"}
            if unknown:
                raise InvalidArgumentError(f"unknown {name} keys {sorted(unknown)}; use pixel_scale, mean, std")
            return cls(**value)
        raise InvalidArgumentError(
            f"{name} must be a smallnet.Preprocessing, a dict with pixel_scale, mean and std, or None; "
            f"got {type(value).__name__}"
        )


# ------------------------------------------------------------ the input check ---

_CHUNK = 1024  # images per pass: the statistics never copy more than this many


def input_statistics(x: np.ndarray, preprocessing: Preprocessing | None) -> tuple[float, float, float, float]:
    """Mean, standard deviation, minimum and maximum over all values of a batch of images
    (N, C, …) as the model sees them: floats as given, uint8 after ``preprocessing``.
    Memory stays small whatever N: uint8 goes through per-channel histograms, floats through
    running sums, a few thousand images at a time."""
    n = x.shape[0]
    channels = x.shape[1] if x.ndim == 4 else 1
    rows = x.reshape(n, channels, -1)
    if x.dtype == np.uint8:
        counts = np.zeros((channels, 256), np.int64)
        for start in range(0, n, _CHUNK):
            part = rows[start : start + _CHUNK]
            for c in range(channels):
                counts[c] += np.bincount(part[:, c].reshape(-1), minlength=256)
        a, b = (preprocessing or Preprocessing.identity())._coefficients(channels)
        values = np.arange(256, dtype=np.float64)[None, :] * a[:, None].astype(np.float64) + b[:, None]
        total = counts.sum()
        mean = float((counts * values).sum() / total)
        squares = float((counts * values**2).sum() / total)
        present = values[counts > 0]
        low, high = float(present.min()), float(present.max())
    else:
        total, s, s2, low, high = 0, 0.0, 0.0, math.inf, -math.inf
        for start in range(0, n, _CHUNK):
            part = rows[start : start + _CHUNK]
            total += part.size
            s += float(part.sum(dtype=np.float64))
            s2 += float(np.einsum("ijk,ijk->", part, part, dtype=np.float64))
            low, high = min(low, float(part.min())), max(high, float(part.max()))
        mean = s / total
        squares = s2 / total
    return mean, math.sqrt(max(squares - mean * mean, 0.0)), low, high


def _user_stacklevel() -> int:
    """The stacklevel of the first frame outside this package: the caller's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame, level = frame.f_back, level + 1
    return level


def check_inputs(x: np.ndarray, preprocessing: Preprocessing | None) -> None:
    """Warns (:class:`InputStatisticsWarning`) when images (N, …) given to a model look unlike
    what it was trained on.

    The rule: for a model whose preprocessing is recorded and not the identity, the model-space
    inputs (floats as given; uint8 after the preprocessing) should have |mean| ≤ 1 and standard
    deviation in [0.5, 2] over all channels. uint8 pixels given to a model whose preprocessing is
    the identity (trained on floats used as given) always warn. Models without preprocessing are
    not checked.
    """
    if preprocessing is None or x.size == 0:
        return
    if preprocessing.is_identity:
        if x.dtype == np.uint8:
            warnings.warn(
                "uint8 pixels given to a model trained on float inputs used as given (its preprocessing is the "
                "identity): they are used as the values 0..255; pass floats prepared as for training, or set "
                "model.preprocessing",
                InputStatisticsWarning,
                stacklevel=_user_stacklevel(),
            )
        return
    mean, std, low, high = input_statistics(x, preprocessing)
    if abs(mean) <= 1 and 0.5 <= std <= 2:
        return
    if x.dtype == np.uint8:
        looks = f"uint8 pixels prepared as {preprocessing.summary} have mean {mean:.3g} and std {std:.3g}"
    elif low >= 0 and high <= 1:
        looks = "inputs look like pixels scaled to [0, 1]"
    elif low >= 0 and high <= 255:
        looks = "inputs look like raw pixels in [0, 255] given as floats"
    else:
        looks = f"inputs have mean {mean:.3g} and std {std:.3g}"
    warnings.warn(
        f"{looks}; this model expects raw uint8 pixels or floats prepared as {preprocessing.summary}",
        InputStatisticsWarning,
        stacklevel=_user_stacklevel(),
    )
