"""Checkpoints: save/load round trips, metadata, and the file read by safetensors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import smallnet

from conftest import synthetic


@pytest.fixture
def trained():
    images, labels = synthetic(256)
    with smallnet.Dataset.from_numpy(images, labels) as data:
        with smallnet.fcn([24, 12], input_shape=(1, 8, 8), classes=3, dropout=0.1, seed=3) as model:
            model.fit(data, epochs=2, progress=False)
            yield model, data


def test_save_load_round_trip(tmp_path, trained):
    model, data = trained
    path = tmp_path / "model.safetensors"
    config = {"epochs": 2, "optimizer": "adamw", "lr": 0.002}
    model.save(path, training_config=config)
    assert path.is_file()
    with smallnet.Model.load(path) as loaded:
        assert not loaded.training  # loaded in eval mode
        assert loaded.layers == model.layers
        assert loaded.input_shape == model.input_shape and loaded.n_params == model.n_params
        original, copy = model.state_dict(), loaded.state_dict()
        assert list(copy) == list(original)
        for name in original:
            np.testing.assert_array_equal(copy[name], original[name])
            assert copy[name].dtype == original[name].dtype
        np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
        images, _ = data.get(0, 20)
        model.eval()
        np.testing.assert_array_equal(loaded(images), model(images))
    assert json.loads(smallnet.checkpoint_metadata(path, "smallnet.training_config")) == config
    assert smallnet.checkpoint_metadata(str(path), "smallnet.version") == smallnet.version()
    architecture = json.loads(smallnet.checkpoint_metadata(path, "smallnet.architecture"))
    assert architecture  # JSON describing the layers


def test_training_config_text_and_none(tmp_path, trained):
    model, _ = trained
    model.save(tmp_path / "a.safetensors", training_config="plain text ✓")
    assert smallnet.checkpoint_metadata(tmp_path / "a.safetensors", "smallnet.training_config") == "plain text ✓"
    model.save(tmp_path / "b.safetensors")
    with pytest.raises(smallnet.NotFoundError):
        smallnet.checkpoint_metadata(tmp_path / "b.safetensors", "smallnet.training_config")


def test_long_metadata(tmp_path, trained):
    model, _ = trained
    config = {"notes": "x" * 20_000}
    model.save(tmp_path / "long.safetensors", training_config=config)
    assert json.loads(smallnet.checkpoint_metadata(tmp_path / "long.safetensors", "smallnet.training_config")) == config


def test_overwrite_existing_file(tmp_path, trained):
    model, _ = trained
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old contents")
    model.save(path)
    with smallnet.Model.load(path) as loaded:
        assert loaded.n_params == model.n_params
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temporary left over


def test_safetensors_reads_the_file(tmp_path, trained):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, _ = trained
    path = tmp_path / "model.safetensors"
    model.save(path, training_config={"seed": 3})
    tensors = safetensors_numpy.load_file(str(path))
    state = model.state_dict()
    assert set(tensors) == set(state)
    for name, value in state.items():
        if name.endswith("num_batches_tracked"):  # a counter: F32, or I64 as PyTorch stores it
            assert tensors[name].dtype in (np.float32, np.int64)
        else:
            assert tensors[name].dtype == np.float32
        assert tensors[name].shape == value.shape
        np.testing.assert_array_equal(tensors[name], value)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()
    assert metadata["smallnet.version"] == smallnet.version()
    assert json.loads(metadata["smallnet.training_config"]) == {"seed": 3}
    assert "smallnet.architecture" in metadata


def test_checkpoint_from_safetensors_writer_is_loadable_after_edit(tmp_path, trained):
    """A file rewritten by the safetensors package (same tensors, same metadata) loads back."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    model, data = trained
    path = tmp_path / "model.safetensors"
    model.save(path)
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()
    tensors = safetensors_numpy.load_file(str(path))
    tensors["1.bias"] = tensors["1.bias"] + 1.0
    rewritten = tmp_path / "rewritten.safetensors"
    safetensors_numpy.save_file(tensors, str(rewritten), metadata=metadata)
    with smallnet.Model.load(rewritten) as loaded:
        np.testing.assert_array_equal(loaded.get_tensor("1.bias"), model.get_tensor("1.bias") + 1.0)


def test_paths_as_str_and_pathlike(tmp_path, trained):
    model, _ = trained
    model.save(str(tmp_path / "s.safetensors"))
    with smallnet.Model.load(Path(tmp_path) / "s.safetensors") as loaded:
        assert loaded.n_outputs == 3
