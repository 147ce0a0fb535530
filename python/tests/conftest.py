"""Shared fixtures: paths, synthetic data, small models."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

import smallnet

REPO = Path(__file__).resolve().parents[2]

# Subprocesses (example scripts, notebook kernels) import the same package as the tests.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(Path(smallnet.__file__).resolve().parents[1])] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
HEADER = REPO / "include" / "smallnet.h"
DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
CLI = REPO / ".build" / "release" / "smallnet"

requires_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"FashionMNIST is not in {DATA_DIR}")


def read_idx(name: str, count: int | None = None) -> np.ndarray:
    """The raw uint8 array of an IDX file of DATA_DIR (``name`` without ``-idx?-ubyte.gz``),
    e.g. ``read_idx("t10k-images")`` → (10000, 28, 28); read straight into the array, so the
    process never holds a second copy."""
    (path,) = DATA_DIR.glob(f"{name}-idx*-ubyte.gz")
    with gzip.open(path, "rb") as f:
        header = f.read(4)
        dims = [int.from_bytes(f.read(4), "big") for _ in range(header[3])]
        if count is not None:
            dims[0] = min(dims[0], count)
        array = np.empty(dims, np.uint8)
        assert f.readinto(memoryview(array).cast("B")) == array.size, f"{path} is truncated"
    return array


def synthetic(n: int = 512, classes: int = 3, shape=(1, 8, 8), seed: int = 0, noise: float = 0.5):
    """Images of `classes` well-separated prototypes plus Gaussian noise, and their labels."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(0.0, 1.0, size=(classes, *shape)).astype(np.float32)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    images = prototypes[labels] + noise * rng.normal(size=(n, *shape)).astype(np.float32)
    return images.astype(np.float32), labels.astype(np.int64)


@pytest.fixture
def toy_data():
    images, labels = synthetic()
    with smallnet.Dataset.from_numpy(images, labels) as data:
        yield data


@pytest.fixture
def small_model():
    """Flatten → Linear(64→16) → BatchNorm1d(16) → ReLU → Dropout(0.5) → Linear(16→3)."""
    model = (
        smallnet.Model(input_shape=(1, 8, 8))
        .add_flatten()
        .add_linear(16, seed=1)
        .add_batchnorm1d()
        .add_relu()
        .add_dropout(0.5)
        .add_linear(3, seed=2)
    )
    yield model
    model.close()


@pytest.fixture
def linear_model():
    """Flatten → Linear(64→5) → ReLU → Linear(5→3), PyTorch initialisation (non-zero biases)."""
    model = (
        smallnet.Model(input_shape=(1, 8, 8))
        .add_flatten()
        .add_linear(5, init="pytorch", seed=3)
        .add_relu()
        .add_linear(3, init="pytorch", seed=4)
    )
    yield model
    model.close()
