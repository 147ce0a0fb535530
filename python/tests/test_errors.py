"""Bad input gives a typed exception with a message, never a crash."""

from __future__ import annotations

import ctypes
import gzip

import numpy as np
import pytest

import smallnet
from smallnet import _lib
from smallnet.errors import check

from conftest import synthetic

# ------------------------------------------------------------------------ the classes ---


@pytest.mark.parametrize(
    "cls, builtin, status",
    [
        (smallnet.InvalidArgumentError, ValueError, _lib.SN_ERR_INVALID_ARGUMENT),
        (smallnet.ShapeMismatchError, ValueError, _lib.SN_ERR_SHAPE_MISMATCH),
        (smallnet.OutOfMemoryError, MemoryError, _lib.SN_ERR_OUT_OF_MEMORY),
        (smallnet.SmallNetIOError, OSError, _lib.SN_ERR_IO),
        (smallnet.NotFoundError, FileNotFoundError, _lib.SN_ERR_NOT_FOUND),
        (smallnet.BadStateError, RuntimeError, _lib.SN_ERR_BAD_STATE),
        (smallnet.InternalError, RuntimeError, _lib.SN_ERR_INTERNAL),
        (smallnet.DivergedError, ArithmeticError, _lib.SN_ERR_DIVERGED),
        (smallnet.UnsupportedCPUError, RuntimeError, _lib.SN_ERR_UNSUPPORTED_CPU),
    ],
)
def test_error_classes(cls, builtin, status):
    error = cls("what went wrong")
    assert isinstance(error, smallnet.SmallNetError)
    assert isinstance(error, builtin)
    assert error.status == status
    assert str(error) == "what went wrong"


def test_check_maps_status_and_message():
    status = _lib.lib.sn_set_num_threads(1000)
    assert status == _lib.SN_ERR_INVALID_ARGUMENT
    with pytest.raises(smallnet.InvalidArgumentError) as info:
        check(status)
    assert info.value.status == status
    assert info.value.message == _lib.last_error() != ""
    check(_lib.SN_OK)


def test_unknown_status_is_internal():
    with pytest.raises(smallnet.InternalError, match="unknown status 99"):
        check(99)


# -------------------------------------------------------------------------- handles ---


def test_closed_model_raises_bad_state(small_model):
    small_model.close()
    assert small_model.closed
    for use in (
        lambda: small_model.n_params,
        lambda: small_model.layers,
        lambda: small_model(np.zeros((2, 1, 8, 8))),
        lambda: small_model.state_dict(),
        lambda: small_model.add_relu(),
        lambda: small_model.save("/tmp/never.safetensors"),
        lambda: smallnet.SGD(small_model),
    ):
        with pytest.raises(smallnet.BadStateError, match="closed"):
            use()
    small_model.close()  # twice is fine
    assert repr(small_model) == "Model(closed)"


def test_closed_dataset_and_optimizer(small_model, toy_data):
    optimizer = smallnet.SGD(small_model, lr=0.1)
    optimizer.close()
    optimizer.close()
    with pytest.raises(smallnet.BadStateError):
        optimizer.step()
    with pytest.raises(smallnet.BadStateError):
        optimizer.lr = 0.5
    with pytest.raises(smallnet.BadStateError):
        small_model.fit(toy_data, optimizer, epochs=1, progress=False)
    toy_data.close()
    with pytest.raises(smallnet.BadStateError):
        len(toy_data)
    with pytest.raises(smallnet.BadStateError):
        small_model.fit(toy_data, epochs=1, progress=False)
    with pytest.raises(smallnet.BadStateError):
        with toy_data:
            pass


def test_context_managers_close():
    with smallnet.Model((1, 4, 4)).add_flatten().add_linear(2) as model:
        assert not model.closed
        with smallnet.Adam(model) as optimizer:
            assert optimizer.lr == pytest.approx(0.001)
        assert optimizer.closed
    assert model.closed
    images, labels = synthetic(10, shape=(1, 4, 4))
    with smallnet.Dataset.from_numpy(images, labels) as data:
        assert len(data) == 10
    assert data.closed


# ------------------------------------------------------------------ the C surface ---


def test_c_null_and_freed_handles():
    lib = _lib.lib
    out = ctypes.c_int64()
    assert lib.sn_model_n_params(None, ctypes.byref(out)) == _lib.SN_ERR_INVALID_ARGUMENT
    assert _lib.last_error() != ""
    pointer = ctypes.c_void_p()
    assert lib.sn_model_create(1, 2, 2, ctypes.byref(pointer)) == _lib.SN_OK
    assert lib.sn_model_add_flatten(pointer) == _lib.SN_OK
    lib.sn_model_free(pointer)
    assert lib.sn_model_n_params(pointer, ctypes.byref(out)) == _lib.SN_ERR_INVALID_ARGUMENT
    lib.sn_model_free(pointer)  # a double free is reported, never a crash
    assert _lib.last_error() != ""
    lib.sn_model_free(None)
    lib.sn_optimizer_free(None)
    lib.sn_dataset_free(None)


def test_c_foreign_pointer_is_refused():
    lib = _lib.lib
    junk = (ctypes.c_uint8 * 256)()
    out = ctypes.c_size_t()
    assert lib.sn_dataset_size(ctypes.addressof(junk), ctypes.byref(out)) == _lib.SN_ERR_INVALID_ARGUMENT
    assert lib.sn_model_n_layers(ctypes.addressof(junk), ctypes.byref(out)) == _lib.SN_ERR_INVALID_ARGUMENT


def test_c_null_outputs():
    lib = _lib.lib
    assert lib.sn_model_create(1, 2, 2, None) == _lib.SN_ERR_INVALID_ARGUMENT
    assert lib.sn_fcn_params_default(None) == _lib.SN_ERR_INVALID_ARGUMENT
    assert lib.sn_train_params_default(None) == _lib.SN_ERR_INVALID_ARGUMENT
    assert lib.sn_status_string(_lib.SN_ERR_NOT_FOUND) != b""
    assert lib.sn_status_string(12345) == b"unknown status"


def test_model_handle_as_dataset_is_refused(small_model):
    out = ctypes.c_size_t()
    status = _lib.lib.sn_dataset_size(small_model._handle, ctypes.byref(out))
    assert status == _lib.SN_ERR_INVALID_ARGUMENT


# -------------------------------------------------------------------------- models ---


@pytest.mark.parametrize("shape", [(0, 28, 28), (1, -1, 28), (1, 28), (1, 2, 3, 4), "abc", (1.5, 2, 2)])
def test_bad_input_shapes(shape):
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Model(input_shape=shape)


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.add_linear(0),
        lambda m: m.add_linear(-3),
        lambda m: m.add_linear(2**40),
        lambda m: m.add_linear(10.5),
        lambda m: m.add_linear(10, init="xavier"),
        lambda m: m.add_linear(10, seed=-1),
        lambda m: m.add_linear(10, bias=2),
        lambda m: m.add_dropout(1.0),
        lambda m: m.add_dropout(-0.1),
        lambda m: m.add_dropout(float("nan")),
        lambda m: m.add_dropout("half"),
        lambda m: m.add_flatten().add_batchnorm1d(eps=0.0),
        lambda m: m.add_flatten().add_batchnorm1d(momentum=1.5),
    ],
)
def test_bad_layer_arguments(build):
    with smallnet.Model((1, 4, 4)) as model:
        with pytest.raises(smallnet.InvalidArgumentError) as info:
            build(model)
        assert str(info.value)


def test_batchnorm_needs_flat_input():
    with smallnet.Model((1, 4, 4)) as model:
        with pytest.raises(smallnet.ShapeMismatchError):
            model.add_batchnorm1d()


def test_forward_errors(small_model):
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model(np.zeros((2, 1, 8, 7), np.float32))
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model(np.zeros((2, 2, 8, 8), np.float32))
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model(np.zeros(64, np.float32))
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model(np.array([["a"] * 64] * 2))
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model(np.zeros((2, 1, 8, 8), dtype=np.complex64))
    with pytest.raises(smallnet.InvalidArgumentError):  # n = 0
        small_model(np.zeros((0, 1, 8, 8), np.float32))
    small_model.train()
    with pytest.raises(smallnet.InvalidArgumentError):  # a training batch of one through BatchNorm
        small_model(np.zeros((1, 1, 8, 8), np.float32))
    small_model.eval()
    assert small_model(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 3)


def test_backward_errors(small_model):
    with pytest.raises(smallnet.BadStateError):
        small_model.backward(np.zeros((4, 3), np.float32))
    small_model(np.zeros((4, 1, 8, 8), np.float32))
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model.backward(np.zeros((5, 3), np.float32))
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model.backward(np.zeros((4, 2), np.float32))
    small_model.backward(np.zeros((4, 3), np.float32))
    small_model.add_relu()  # changing the model invalidates the last forward
    with pytest.raises(smallnet.BadStateError):
        small_model.backward(np.zeros((4, 3), np.float32))


def test_tensor_errors(small_model):
    with pytest.raises(smallnet.NotFoundError) as info:
        small_model.get_tensor("9.weight")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(smallnet.NotFoundError):
        small_model.set_tensor("nope", np.zeros(3))
    with pytest.raises(smallnet.NotFoundError):
        small_model.grad("1.nope")
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model.set_tensor("1.bias", np.zeros(15))
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.set_tensor("1.bias", np.full(16, np.nan))
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.set_tensor("1.bias", np.full(16, np.inf))
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.get_tensor(3)
    # Too small a buffer, through the C surface.
    buffer = np.zeros(4, np.float32)
    status = _lib.lib.sn_model_get_tensor(small_model._handle, b"1.bias", buffer.ctypes.data_as(
        ctypes.POINTER(ctypes.c_float)), 4)
    assert status == _lib.SN_ERR_SHAPE_MISMATCH


def test_load_state_dict_errors(small_model):
    state = small_model.state_dict()
    before = small_model.state_dict()
    bad = dict(state)
    del bad["1.weight"]
    with pytest.raises(smallnet.InvalidArgumentError, match="missing keys"):
        small_model.load_state_dict(bad)
    bad = dict(state, extra=np.zeros(3))
    with pytest.raises(ValueError, match="unexpected keys"):
        small_model.load_state_dict(bad)
    bad = dict(state)
    bad["5.weight"] = np.zeros((16, 3), np.float32)
    bad["1.bias"] = np.ones(16, np.float32)
    with pytest.raises(smallnet.ShapeMismatchError):
        small_model.load_state_dict(bad)
    bad = dict(state)
    bad["1.bias"] = np.full(16, np.nan)
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.load_state_dict(bad)
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.load_state_dict([1, 2, 3])
    after = small_model.state_dict()
    for name in before:  # nothing changed
        np.testing.assert_array_equal(before[name], after[name])


# --------------------------------------------------------------------- optimizers ---


@pytest.mark.parametrize(
    "make",
    [
        lambda m: smallnet.SGD(m, lr=-1.0),
        lambda m: smallnet.SGD(m, momentum=-0.5),
        lambda m: smallnet.SGD(m, lr=0.1, nesterov=True),  # Nesterov needs momentum, no dampening
        lambda m: smallnet.Adam(m, betas=(1.5, 0.999)),
        lambda m: smallnet.Adam(m, betas=(0.9,)),
        lambda m: smallnet.AdamW(m, eps=-1e-8),
        lambda m: smallnet.RMSProp(m, alpha=-0.1),
        lambda m: smallnet.RMSProp(m, lr="fast"),
        lambda m: smallnet.SGD("not a model"),
    ],
)
def test_bad_optimizer_arguments(small_model, make):
    with pytest.raises(smallnet.InvalidArgumentError) as info:
        make(small_model)
    assert str(info.value)


def test_bad_optimizer_kind_and_lr(small_model):
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.optimizer_defaults(99)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.optimizer_defaults("lbfgs")
    params = _lib.sn_optimizer_params()
    params.struct_size = ctypes.sizeof(params)
    assert _lib.lib.sn_optimizer_params_default(99, ctypes.byref(params)) == _lib.SN_ERR_INVALID_ARGUMENT
    with smallnet.SGD(small_model, lr=0.1) as optimizer:
        with pytest.raises(smallnet.InvalidArgumentError):
            optimizer.lr = -1.0
        with pytest.raises(smallnet.InvalidArgumentError):
            optimizer.lr = float("nan")
        assert optimizer.lr == pytest.approx(0.1)


# ------------------------------------------------------------------------ datasets ---


def test_bad_numpy_datasets():
    images, labels = synthetic(20)
    with pytest.raises(smallnet.InvalidArgumentError):  # a label out of range
        smallnet.Dataset.from_numpy(images, labels, classes=2)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_numpy(images, -labels - 1)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_numpy(images, labels.astype(np.float32))
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_numpy(images, labels + 2**40)
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.Dataset.from_numpy(images, labels[:-1])
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.Dataset.from_numpy(images.reshape(20, -1), labels)
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.Dataset.from_numpy(images, labels.reshape(4, 5))
    bad = images.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_numpy(bad, labels)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_numpy(np.array([["x"]]), labels)
    with pytest.raises(smallnet.InvalidArgumentError):  # empty
        smallnet.Dataset.from_numpy(np.zeros((0, 1, 4, 4)), np.zeros(0, np.int64), classes=2)


def test_bad_dataset_ranges(toy_data):
    n = len(toy_data)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.subset(n - 5, 10)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.subset(-1, 10)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.get(n, 1)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.get(n + 1)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.split(0)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.split(n)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.class_name(3)
    with pytest.raises(smallnet.InvalidArgumentError):
        toy_data.class_name(-1)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(smallnet.NotFoundError) as info:
        smallnet.Dataset.fashion_mnist(directory=tmp_path)
    assert str(info.value)
    with pytest.raises(FileNotFoundError):
        smallnet.Dataset.from_idx(tmp_path / "none-images", tmp_path / "none-labels")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not an IDX file")
    with pytest.raises(smallnet.SmallNetIOError):
        smallnet.Dataset.from_idx(garbage, garbage)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00\x00\x05")[:-6])
    with pytest.raises(smallnet.SmallNetIOError):
        smallnet.Dataset.from_idx(broken, broken)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_idx(garbage, garbage, std=0.0)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.Dataset.from_idx(123, garbage)


def test_checkpoint_file_errors(tmp_path, small_model):
    with pytest.raises(smallnet.NotFoundError):
        smallnet.Model.load(tmp_path / "missing.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(smallnet.SmallNetIOError):
        smallnet.Model.load(garbage)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(smallnet.SmallNetIOError):
        smallnet.Model.load(empty)
    with pytest.raises(smallnet.SmallNetIOError):
        small_model.save(tmp_path / "no" / "such" / "dir" / "model.safetensors")
    path = tmp_path / "model.safetensors"
    small_model.save(path)
    with pytest.raises(smallnet.NotFoundError):
        smallnet.checkpoint_metadata(path, "smallnet.nope")
    with pytest.raises(smallnet.NotFoundError):
        smallnet.checkpoint_metadata(tmp_path / "missing.safetensors", "smallnet.version")
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.save(path, training_config={"f": object()})
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.save(path, training_config=42)


# ------------------------------------------------------------------------ training ---


def test_bad_fit_arguments(small_model, toy_data):
    with smallnet.Model((1, 8, 8)).add_flatten().add_linear(3) as other, smallnet.SGD(other) as foreign:
        with pytest.raises(smallnet.InvalidArgumentError, match="another model"):
            small_model.fit(toy_data, foreign, epochs=1, progress=False)
    for kwargs in (
        {"epochs": -1},
        {"batch_size": 0},
        {"label_smoothing": 1.0},
        {"schedule": "linear"},
        {"schedule": {"kind": "step", "size": 3}},
        {"schedule": 3.5},
        {"progress": "yes"},
        {"seed": -5},
        {"threads": 1000},
        {"crop_padding": -1},
        {"validation": np.zeros(3)},
    ):
        with pytest.raises(smallnet.InvalidArgumentError):
            small_model.fit(toy_data, epochs=kwargs.pop("epochs", 1), progress=kwargs.pop("progress", False),
                            **kwargs)
    with pytest.raises(smallnet.InvalidArgumentError):
        small_model.fit(np.zeros((4, 1, 8, 8)), epochs=1)


def test_fit_data_that_does_not_fit_the_model(small_model):
    images, labels = synthetic(64, shape=(1, 4, 4))
    with smallnet.Dataset.from_numpy(images, labels) as wrong_shape:
        with pytest.raises(smallnet.ShapeMismatchError):
            small_model.fit(wrong_shape, epochs=1, progress=False)
        with pytest.raises(smallnet.ShapeMismatchError):
            small_model.evaluate(wrong_shape)
        with pytest.raises(smallnet.ShapeMismatchError):
            small_model.predict(wrong_shape)
    images, labels = synthetic(64, classes=5)
    with smallnet.Dataset.from_numpy(images, labels) as wrong_classes:
        with pytest.raises(smallnet.ShapeMismatchError):
            small_model.fit(wrong_classes, epochs=1, progress=False)


def test_threads_errors():
    for n in (-1, 65, 2**40, "2", 1.5):
        with pytest.raises(smallnet.InvalidArgumentError):
            smallnet.set_num_threads(n)


def test_cross_entropy_errors():
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cross_entropy(logits, [0, 1, 4])
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cross_entropy(logits, [0, -1, 2])
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cross_entropy(logits, [0, 1, 2], label_smoothing=1.0)
    with pytest.raises(smallnet.InvalidArgumentError):
        smallnet.cross_entropy(logits, [0.0, 1.0, 2.0])
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.cross_entropy(logits, [0, 1])
    with pytest.raises(smallnet.ShapeMismatchError):
        smallnet.cross_entropy(np.zeros(4), [0])
