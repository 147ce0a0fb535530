"""Datasets: labelled images held by the library, as raw pixels (bytes) or as model inputs (floats)."""

from __future__ import annotations

import ctypes
import os
from typing import Any, Mapping, Sequence

import numpy as np

from . import _lib
from ._handle import (
    Handle,
    float_pointer,
    int32_pointer,
    label_array,
    new_pointer,
    pixel_or_float_array,
    text_array,
    to_flag,
    to_float,
    to_int32,
    to_path,
    to_size,
    to_uint64,
    uint8_pointer,
)
from .errors import InvalidArgumentError, ShapeMismatchError, check
from .preprocessing import Preprocessing

__all__ = ["Dataset"]

_lib_ = _lib.lib


class Dataset(Handle):
    """Labelled images of shape (C, H, W) with integer labels in ``0..classes-1``.

    Create one with :meth:`fashion_mnist`, :meth:`from_numpy` or :meth:`from_idx`. The data
    lives in the library; :meth:`get` and :meth:`numpy` copy it out. Raw pixels (IDX files,
    uint8 arrays) stay bytes and are prepared by a model with the model's
    :attr:`~smallnet.Model.preprocessing` (with the dataset's own, :attr:`preprocessing`, when
    the model records none); float images are used as given.

    Example:
        >>> train = Dataset.fashion_mnist(train=True)
        >>> rest, val = train.split(5000, seed=0)
        >>> images, labels = val.get(0, 8)      # (8, 1, 28, 28) float32, (8,) int32
    """

    _noun = "dataset"

    def __init__(self, pointer: int):
        super().__init__(pointer, _lib_.sn_dataset_free)

    # ------------------------------------------------------------------ constructors ---

    @classmethod
    def _create(cls, call) -> Dataset:
        out = new_pointer()
        check(call(ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def fashion_mnist(cls, train: bool = True, directory: str | os.PathLike | None = None,
                      verify: bool = True) -> Dataset:
        """Loads the FashionMNIST training split (60,000 images) or test split (10,000).

        Args:
            train: the training split if True, else the test split.
            directory: folder with the four IDX files (``.gz`` or raw); None means
                ``$SMALLNET_DATA``, else ``/usr/share/datasets/fashion-mnist``.
            verify: check each file's SHA-256.

        Shape:
            images (1, 28, 28), raw pixels with preprocessing ``(x/255 - 0.2860)/0.3530``;
            10 named classes.

        Raises:
            NotFoundError: the files are not there (the message says how to get them).
            SmallNetIOError: a checksum mismatch or a malformed file.

        Example:
            >>> test = Dataset.fashion_mnist(train=False)
            >>> len(test), test.class_names[0]
            (10000, 'T-shirt/top')
        """
        path = None if directory is None else to_path(directory, "directory")
        flag, check_sums = to_flag(train, "train"), to_flag(verify, "verify")
        return cls._create(lambda out: _lib_.sn_dataset_load_fashion_mnist(path, flag, check_sums, out))

    @classmethod
    def from_idx(cls, images_path: str | os.PathLike, labels_path: str | os.PathLike, classes: int = 10,
                 mean: float = 0.0, std: float = 1.0) -> Dataset:
        """Loads an IDX image file (N, H, W) and label file (N) of unsigned bytes, raw or ``.gz``.

        Args:
            images_path: the images file.
            labels_path: the labels file.
            classes: number of classes; every label must be below it.
            mean, std: the dataset's preprocessing ``(x/255 - mean)/std`` (std > 0), used when
                no model records its own.

        Shape:
            images (1, H, W).

        Raises:
            NotFoundError, SmallNetIOError: naming the file and the problem.

        Example:
            >>> data = Dataset.from_idx("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
        """
        images_b, labels_b = to_path(images_path, "images_path"), to_path(labels_path, "labels_path")
        n_classes = to_int32(classes, "classes")
        m, s = to_float(mean, "mean"), to_float(std, "std")
        return cls._create(lambda out: _lib_.sn_dataset_load_idx(images_b, labels_b, n_classes, m, s, out))

    @classmethod
    def from_numpy(cls, images: Any, labels: Any, classes: int | None = None,
                   class_names: Sequence[str] | None = None,
                   preprocessing: Preprocessing | Mapping[str, Any] | None = None) -> Dataset:
        """Copies images and labels from numpy arrays into a new dataset.

        uint8 images are raw pixels: they stay bytes inside the library (wrapping 60,000 images
        costs about their own size) and a model prepares them with its preprocessing. Any other
        numbers are model inputs, copied as float32 and used as given.

        Args:
            images: (N, C, H, W), or (N, H, W) for one channel.
            labels: N integers in ``0..classes-1``.
            classes: number of classes; default ``max(labels) + 1``, at least 2.
            class_names: one name per class; a model trained on the dataset takes them.
            preprocessing: for uint8 images, how they are prepared when no model records its
                own (a :class:`Preprocessing` or a dict); None: their own statistics (pixel
                scale 1/255, per-channel mean and std of x/255 rounded to 4 decimals).

        Shape:
            images (N, C, H, W) or (N, H, W); labels (N,).

        Raises:
            ShapeMismatchError: images not 3- or 4-dimensional, or N differing.
            InvalidArgumentError: non-numeric data, a label out of range, a non-finite pixel,
                preprocessing given for float images.

        Example:
            >>> x = np.random.rand(100, 1, 8, 8).astype(np.float32)
            >>> y = np.arange(100) % 3
            >>> data = Dataset.from_numpy(x, y)      # 3 classes, used as given
            >>> pixels = np.random.randint(0, 256, (100, 28, 28), dtype=np.uint8)
            >>> raw = Dataset.from_numpy(pixels, y, class_names=["a", "b", "c"])
            >>> raw.preprocessing                    # the pixels' own statistics
        """
        x = pixel_or_float_array(images, "images")
        if x.ndim == 3:
            x = x[:, None, :, :]
        if x.ndim != 4:
            raise ShapeMismatchError(f"images must be (N, C, H, W) or (N, H, W), got shape {x.shape}")
        return cls._from_arrays(x, labels, classes, class_names, Preprocessing.coerce(preprocessing))

    @classmethod
    def _from_arrays(cls, x: np.ndarray, labels: Any, classes: int | None, class_names: Sequence[str] | None,
                     preprocessing: Preprocessing | None) -> Dataset:
        """A dataset from C-contiguous images (N, C, H, W), uint8 or float32."""
        y = label_array(labels)
        if y.shape[0] != x.shape[0]:
            raise ShapeMismatchError(f"{x.shape[0]} images but {y.shape[0]} labels")
        if classes is None:
            n_classes = max(int(y.max()) + 1 if y.size else 0, 2)
        else:
            n_classes = to_int32(classes, "classes")
        n, c, h, w = (int(d) for d in x.shape)
        for value, name in ((c, "channels"), (h, "height"), (w, "width")):
            to_int32(value, name)
        if x.dtype == np.uint8:
            settings = None if preprocessing is None else ctypes.byref(preprocessing._struct())
            data = cls._create(lambda out: _lib_.sn_dataset_from_u8(uint8_pointer(x), int32_pointer(y), n, c, h, w,
                                                                    n_classes, settings, out))
        else:
            if preprocessing is not None:
                raise InvalidArgumentError(
                    "preprocessing applies to uint8 pixels; float images are model inputs, used as given"
                )
            data = cls._create(lambda out: _lib_.sn_dataset_from_memory(float_pointer(x), int32_pointer(y), n, c, h,
                                                                        w, n_classes, out))
        if class_names is not None:
            data.class_names = class_names
        return data

    # -------------------------------------------------------------------- properties ---

    def __len__(self) -> int:
        out = ctypes.c_size_t()
        check(_lib_.sn_dataset_size(self._handle, ctypes.byref(out)))
        return out.value

    def _shape(self) -> tuple[int, int, int, int]:
        c, h, w, k = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        check(_lib_.sn_dataset_shape(self._handle, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w),
                                     ctypes.byref(k)))
        return c.value, h.value, w.value, k.value

    @property
    def shape(self) -> tuple[int, int, int]:
        """The per-sample shape (C, H, W)."""
        return self._shape()[:3]

    @property
    def classes(self) -> int:
        """The number of classes."""
        return self._shape()[3]

    def class_name(self, index: int) -> str:
        """The name of class ``index`` (FashionMNIST: "T-shirt/top", …; otherwise its number)."""
        i = to_int32(index, "index")
        buffer = ctypes.create_string_buffer(256)
        check(_lib_.sn_dataset_class_name(self._handle, i, buffer, len(buffer)))
        return buffer.value.decode("utf-8", "replace")

    @property
    def class_names(self) -> list[str]:
        """The names of all classes, in label order (their numbers as text when unnamed).
        Settable: one name per class, or None to forget them."""
        return [self.class_name(i) for i in range(self.classes)]

    @class_names.setter
    def class_names(self, names: Sequence[str] | None) -> None:
        array, n = text_array(names, "class_names")
        check(_lib_.sn_dataset_set_class_names(self._handle, array, n))

    @property
    def preprocessing(self) -> Preprocessing:
        """How the dataset's raw pixels are prepared when no model records its own
        preprocessing (a model that does uses its own); the identity for float data, which is
        used as given."""
        out = Preprocessing._empty_struct()
        check(_lib_.sn_dataset_get_preprocessing(self._handle, ctypes.byref(out)))
        return Preprocessing._from_struct(out)

    # ---------------------------------------------------------------------- slicing ---

    def subset(self, start: int, count: int) -> Dataset:
        """Samples ``start .. start+count-1`` as a new dataset.

        Raises:
            InvalidArgumentError: a range outside the dataset.
        """
        first, n = to_size(start, "start"), to_size(count, "count")
        return self._create(lambda out: _lib_.sn_dataset_subset(self._handle, first, n, out))

    def split(self, holdout: int, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Splits off ``holdout`` samples chosen by a seeded shuffle.

        Args:
            holdout: how many samples to hold out (0 < holdout < len).
            seed: seeds the shuffle; the same seed gives the same split.

        Returns:
            ``(rest, held_out)``.

        Example:
            >>> train, val = Dataset.fashion_mnist().split(5000)
        """
        k, s = to_size(holdout, "holdout"), to_uint64(seed, "seed")
        rest, held = new_pointer(), new_pointer()
        check(_lib_.sn_dataset_split(self._handle, k, s, ctypes.byref(rest), ctypes.byref(held)))
        return Dataset(rest.value), Dataset(held.value)

    def get(self, start: int = 0, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies samples ``start .. start+count-1`` out as float model inputs: raw pixels
        prepared with the dataset's own :attr:`preprocessing`, floats as given.

        Args:
            start: the first sample.
            count: how many; None means up to the end.

        Shape:
            images (count, C, H, W) float32; labels (count,) int32.

        Raises:
            InvalidArgumentError: a range outside the dataset.
        """
        first = to_size(start, "start")
        if count is None:
            size = len(self)
            if first > size:
                raise InvalidArgumentError(f"start {first} is past the end of a dataset of {size} samples")
            count = size - first
        n = to_size(count, "count")
        c, h, w = self.shape
        images = np.empty((n, c, h, w), dtype=np.float32)
        labels = np.empty(n, dtype=np.int32)
        check(_lib_.sn_dataset_get(self._handle, first, n, float_pointer(images), images.size,
                                   int32_pointer(labels), labels.size))
        return images, labels

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """All images and labels: ``get(0, len(self))``."""
        return self.get(0, None)

    def __repr__(self) -> str:
        if self.closed:
            return "Dataset(closed)"
        return f"Dataset({len(self)} samples, shape={self.shape}, classes={self.classes})"
