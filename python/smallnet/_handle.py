"""Shared plumbing: owned library handles and argument conversion."""

from __future__ import annotations

import ctypes
import math
import operator
import os
import weakref
from typing import Any, Callable

import numpy as np

from .errors import BadStateError, InvalidArgumentError, ShapeMismatchError

_INT32 = (-(2**31), 2**31 - 1)
_UINT64_MAX = 2**64 - 1
_SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1


class Handle:
    """An owned library handle, freed exactly once.

    Freed by :meth:`close`, by leaving a ``with`` block, or, as a safety net, when the object
    is garbage-collected (``weakref.finalize``). Using it after that raises
    :class:`~smallnet.BadStateError`; closing twice is fine.
    """

    _noun = "object"

    def __init__(self, pointer: int | None, free: Callable[[Any], None]):
        if not pointer:
            raise BadStateError(f"the library returned no {self._noun}")
        self._pointer: int | None = pointer
        self._finalizer = weakref.finalize(self, free, ctypes.c_void_p(pointer))

    @property
    def _handle(self) -> int:
        if self._pointer is None:
            raise BadStateError(f"this {self._noun} is closed")
        return self._pointer

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._pointer is None

    def close(self) -> None:
        """Frees the library object now. Calling it again does nothing."""
        self._pointer = None
        self._finalizer()

    def __enter__(self):
        self._handle  # noqa: B018  (raises on a closed object)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError(
            f"a smallnet {self._noun} cannot be pickled or copied: its data lives in the library; "
            f"rebuild it in the other process"
        )


def new_pointer() -> ctypes.c_void_p:
    """A ``void *`` for a library function to write a new handle into."""
    return ctypes.c_void_p()


def to_int(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high], else InvalidArgumentError naming it."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise InvalidArgumentError(f"{name} must be in [{low}, {high}], got {number}")
    return number


def to_int32(value: Any, name: str) -> int:
    return to_int(value, name, *_INT32)


def to_uint64(value: Any, name: str) -> int:
    return to_int(value, name, 0, _UINT64_MAX)


def to_size(value: Any, name: str) -> int:
    return to_int(value, name, 0, _SIZE_MAX)


def to_flag(value: Any, name: str) -> int:
    """A bool (or 0/1) as 0 or 1."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number in (0, 1):
        return number
    raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")


def to_float(value: Any, name: str) -> float:
    """A real number, else InvalidArgumentError naming it. Range checks are the library's."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}") from None
    if math.isfinite(number) and abs(number) > 3.4028234663852886e38:
        raise InvalidArgumentError(f"{name} does not fit a 32-bit float: {number}")
    return number


def to_path(path: Any, name: str = "path") -> bytes:
    """A file path as bytes for the library."""
    try:
        return os.fsencode(path)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be a str or os.PathLike, got {type(path).__name__}") from None


def to_text(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {type(value).__name__}")
    if "\0" in value:
        raise InvalidArgumentError(f"{name} must not contain NUL characters")
    return value.encode("utf-8")


def text_array(values: Any, name: str) -> tuple[ctypes.Array, int]:
    """A list of str as a C array of UTF-8 strings and its length (None or [] → an empty array)."""
    if values is None:
        values = []
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidArgumentError(f"{name} must be a list of str, got {values!r}")
    encoded = [to_text(v, f"{name} entry") for v in values]
    return (ctypes.c_char_p * max(len(encoded), 1))(*encoded), len(encoded)


def float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float32 array; InvalidArgumentError for non-numeric data."""
    try:
        array = np.asarray(x)
    except Exception as error:  # ragged lists and the like
        raise InvalidArgumentError(f"{name} must be a numeric array: {error}") from None
    if array.dtype.kind not in "fiu":
        raise InvalidArgumentError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float32)


def pixel_or_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a C-contiguous array: uint8 stays uint8 (raw pixels, not copied when already
    contiguous); any other real numbers become float32 (model inputs)."""
    try:
        array = np.asarray(x)
    except Exception as error:  # ragged lists and the like
        raise InvalidArgumentError(f"{name} must be a numeric array: {error}") from None
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    return float_array(array, name)


def images_array(x: Any, sample_shape: tuple[int, int, int], name: str = "x") -> np.ndarray:
    """Images for a model whose inputs are ``sample_shape`` (C, H, W), as (N, C, H, W).

    The shape rule of every model method: (N, C·H·W), (N, H, W) when C is 1, (N, C, H, W), or
    one image (C, H, W). uint8 stays uint8 (raw pixels); other numbers become float32.

    Raises:
        ShapeMismatchError: any other shape.
    """
    array = pixel_or_float_array(x, name)
    c, h, w = sample_shape
    if array.ndim == 3 and array.shape == (c, h, w):
        return array.reshape(1, c, h, w)
    fits = (
        (array.ndim == 4 and array.shape[1:] == (c, h, w))
        or (array.ndim == 3 and c == 1 and array.shape[1:] == (h, w))
        or (array.ndim == 2 and array.shape[1] == c * h * w)
    )
    if not fits:
        single = "" if c == 1 else f" or one image ({c}, {h}, {w})"
        flat_images = f", (N, {h}, {w})" if c == 1 else ""
        raise ShapeMismatchError(
            f"{name} must be images (N, {c * h * w}){flat_images} or (N, {c}, {h}, {w}){single}, "
            f"got shape {array.shape}"
        )
    return array.reshape(array.shape[0], c, h, w)


def label_array(y: Any, name: str = "labels") -> np.ndarray:
    """``y`` as a C-contiguous int32 vector; integers only."""
    try:
        array = np.asarray(y)
    except Exception as error:
        raise InvalidArgumentError(f"{name} must be an integer array: {error}") from None
    if array.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ShapeMismatchError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and (array.min() < _INT32[0] or array.max() > _INT32[1]):
        raise InvalidArgumentError(f"{name} hold values outside the 32-bit integer range")
    return np.ascontiguousarray(array, dtype=np.int32)


def uint8_pointer(array: np.ndarray) -> ctypes._Pointer:
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))


def float_pointer(array: np.ndarray) -> ctypes._Pointer:
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def int32_pointer(array: np.ndarray) -> ctypes._Pointer:
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def int64_pointer(array: np.ndarray) -> ctypes._Pointer:
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))
