"""Datasets: numpy round trips, slicing, splitting, IDX files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import smallnet

from conftest import DATA_DIR, requires_data, synthetic


def numbered(n=50, shape=(1, 3, 3)):
    """Image i filled with the value i, label i % 4: every sample identifiable."""
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, *shape)).copy()
    return images, np.arange(n) % 4


def test_from_numpy_round_trip():
    images, labels = synthetic(40, classes=3, shape=(2, 5, 4))
    with smallnet.Dataset.from_numpy(images, labels) as data:
        assert len(data) == 40
        assert data.shape == (2, 5, 4)
        assert data.classes == 3
        assert data.class_names == ["0", "1", "2"]
        got_images, got_labels = data.numpy()
        assert got_images.dtype == np.float32 and got_images.shape == (40, 2, 5, 4)
        assert got_labels.dtype == np.int32
        np.testing.assert_array_equal(got_images, images)
        np.testing.assert_array_equal(got_labels, labels)
        part_images, part_labels = data.get(10, 5)
        np.testing.assert_array_equal(part_images, images[10:15])
        np.testing.assert_array_equal(part_labels, labels[10:15])
        tail_images, _ = data.get(35)
        np.testing.assert_array_equal(tail_images, images[35:])
        assert "40 samples" in repr(data)


def test_from_numpy_shapes_and_classes():
    images = np.random.default_rng(0).normal(size=(6, 7, 7))
    with smallnet.Dataset.from_numpy(images, [0, 0, 0, 0, 0, 0]) as data:
        assert data.shape == (1, 7, 7)
        assert data.classes == 2  # at least 2
        np.testing.assert_allclose(data.numpy()[0][:, 0], images, rtol=1e-6)
    with smallnet.Dataset.from_numpy(images, [0, 1, 5, 2, 0, 1]) as data:
        assert data.classes == 6
    with smallnet.Dataset.from_numpy(images, np.array([0, 1, 2, 2, 0, 1], np.uint8), classes=10) as data:
        assert data.classes == 10
    strided = np.arange(6 * 2 * 7 * 7, dtype=np.float64).reshape(6, 2, 7, 7)[:, ::2]
    with smallnet.Dataset.from_numpy(strided, np.zeros(6, int)) as data:
        np.testing.assert_array_equal(data.numpy()[0], strided.astype(np.float32))


def test_subset():
    images, labels = numbered()
    with smallnet.Dataset.from_numpy(images, labels) as data:
        with data.subset(10, 20) as part:
            assert len(part) == 20 and part.classes == 4
            got, got_labels = part.numpy()
            np.testing.assert_array_equal(got[:, 0, 0, 0], np.arange(10, 30))
            np.testing.assert_array_equal(got_labels, labels[10:30])
        part = data.subset(0, 5)
    # A subset is independent of its parent.
    assert data.closed
    assert len(part) == 5
    part.close()


def test_split():
    images, labels = numbered(100)
    with smallnet.Dataset.from_numpy(images, labels) as data:
        rest, held = data.split(30, seed=1)
        assert (len(rest), len(held)) == (70, 30)
        rest_ids = rest.numpy()[0][:, 0, 0, 0].astype(int)
        held_ids = held.numpy()[0][:, 0, 0, 0].astype(int)
        assert sorted(np.concatenate([rest_ids, held_ids]).tolist()) == list(range(100))
        np.testing.assert_array_equal(held.numpy()[1], held_ids % 4)  # labels stay with their images
        again_rest, again_held = data.split(30, seed=1)
        np.testing.assert_array_equal(again_held.numpy()[0], held.numpy()[0])
        np.testing.assert_array_equal(again_rest.numpy()[0], rest.numpy()[0])
        _, other = data.split(30, seed=2)
        assert not np.array_equal(other.numpy()[0], held.numpy()[0])
        for d in (rest, held, again_rest, again_held, other):
            d.close()


def write_idx(path, array, magic_type=0x08, compress=False):
    header = struct.pack(">HBB", 0, magic_type, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.mark.parametrize("compress", [False, True])
def test_from_idx(tmp_path, compress):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(12, 5, 6), dtype=np.uint8)
    labels = rng.integers(0, 7, size=12, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"images{suffix}", pixels, compress=compress)
    write_idx(tmp_path / f"labels{suffix}", labels, compress=compress)
    with smallnet.Dataset.from_idx(tmp_path / f"images{suffix}", str(tmp_path / f"labels{suffix}"), classes=7,
                                   mean=0.5, std=0.25) as data:
        assert len(data) == 12 and data.shape == (1, 5, 6) and data.classes == 7
        images, got_labels = data.numpy()
        np.testing.assert_allclose(images[:, 0], (pixels / 255.0 - 0.5) / 0.25, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got_labels, labels)


def test_from_idx_inconsistent_files(tmp_path):
    pixels = np.zeros((4, 3, 3), np.uint8)
    write_idx(tmp_path / "images", pixels)
    write_idx(tmp_path / "labels5", np.zeros(5, np.uint8))
    write_idx(tmp_path / "labels_big", np.array([0, 1, 9, 2], np.uint8))
    with pytest.raises(smallnet.SmallNetError):
        smallnet.Dataset.from_idx(tmp_path / "images", tmp_path / "labels5")
    with pytest.raises(smallnet.SmallNetError):
        smallnet.Dataset.from_idx(tmp_path / "images", tmp_path / "labels_big", classes=5)
    truncated = tmp_path / "truncated"
    truncated.write_bytes((tmp_path / "images").read_bytes()[:-4])
    with pytest.raises(smallnet.SmallNetIOError):
        smallnet.Dataset.from_idx(truncated, tmp_path / "labels5")


@requires_data
def test_fashion_mnist_sizes_and_names():
    with smallnet.Dataset.fashion_mnist(train=True) as train, smallnet.Dataset.fashion_mnist(
        train=False, directory=DATA_DIR, verify=False
    ) as test:
        assert len(train) == 60_000 and len(test) == 10_000
        assert train.shape == test.shape == (1, 28, 28)
        assert train.classes == 10
        assert test.class_names == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        images, labels = test.get(0, 1000)
        assert -1.0 < images.mean() < 1.0  # normalised
        assert images.min() == pytest.approx((0 - 0.2860) / 0.3530, abs=1e-4)
        assert np.bincount(labels, minlength=10).min() > 50
