"""Free functions: the loss, threads, versions, the library in use."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from . import _lib
from ._handle import float_array, float_pointer, int32_pointer, label_array, to_float, to_int32
from .errors import ShapeMismatchError, check

__all__ = ["cross_entropy", "get_num_threads", "info", "set_num_threads", "version"]

_lib_ = _lib.lib


def cross_entropy(logits: Any, labels: Any, label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits.

    Args:
        logits: (N, C) real numbers.
        labels: N integers in ``0..C-1``.
        label_smoothing: in [0, 1); the target puts ``1 - s + s/C`` on the label, ``s/C`` elsewhere.

    Shape:
        returns the loss (a float) and dlogits (N, C) float32, ``(softmax(logits) - target) / N``.

    Raises:
        ShapeMismatchError: logits not 2-D, or N differing.
        InvalidArgumentError: a label out of range, a smoothing outside [0, 1).

    Example:
        >>> loss, dlogits = cross_entropy(np.zeros((2, 10)), [3, 7])   # loss = log(10)
    """
    x = float_array(logits, "logits")
    if x.ndim != 2:
        raise ShapeMismatchError(f"logits must be (N, C), got shape {x.shape}")
    y = label_array(labels)
    if y.shape[0] != x.shape[0]:
        raise ShapeMismatchError(f"{x.shape[0]} rows of logits but {y.shape[0]} labels")
    loss = ctypes.c_float()
    dlogits = np.empty_like(x)
    check(_lib_.sn_cross_entropy(float_pointer(x), int32_pointer(y), x.shape[0], x.shape[1],
                                 to_float(label_smoothing, "label_smoothing"), ctypes.byref(loss),
                                 float_pointer(dlogits)))
    return loss.value, dlogits


def set_num_threads(n: int) -> None:
    """Sets the number of threads the kernels use from now on (1..64), or 0 for the default.

    The default is ``SMALLNET_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs this process
    may use (its affinity mask, bounded by a cgroup CPU quota). Results do not depend on it.

    Raises:
        InvalidArgumentError: n outside 0..64.
    """
    check(_lib_.sn_set_num_threads(to_int32(n, "n")))


def get_num_threads() -> int:
    """The number of threads the kernels use."""
    return int(_lib_.sn_get_num_threads())


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return _lib_.sn_version_string().decode("ascii")


def info() -> dict[str, Any]:
    """What runs: the library, its version, kernel variant and thread count.

    ``isa`` is the instruction set the kernels were chosen for when the library was loaded:
    "avx512", "avx2" or "baseline" (x86-64-v2), by CPUID or by the environment variable
    ``SMALLNET_ISA``.

    Example:
        >>> smallnet.info()["isa"]
        'avx2'
    """
    return {
        "version": version(),
        "abi_version": int(_lib_.sn_abi_version()),
        "isa": _lib_.sn_isa().decode("ascii"),
        "threads": get_num_threads(),
        "library": str(_lib.library_path),
    }
