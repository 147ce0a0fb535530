"""numpy first: the shape rule, raw uint8 pixels against float model inputs, preprocessing and
class names owned by the model, the input-statistics warning, fit/evaluate/predict on arrays."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

import smallnet
from smallnet import Preprocessing

from conftest import synthetic


def pixels(n=300, classes=3, shape=(1, 8, 8), seed=0):
    """uint8 images: class prototypes in 0..255 plus noise, and their labels."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, size=(classes, *shape))
    labels = np.arange(n) % classes
    noisy = prototypes[labels] + rng.normal(0, 25, size=(n, *shape))
    return np.clip(noisy, 0, 255).astype(np.uint8), labels


def model_for(shape=(1, 8, 8), classes=3, seed=0):
    return smallnet.fcn([16], input_shape=shape, classes=classes, dropout=0.0, seed=seed)


# ------------------------------------------------------------------ the shape rule ---


def test_one_shape_rule_for_every_method():
    images, labels = pixels()
    with model_for() as model:
        model.preprocessing = Preprocessing(1 / 255, 0.5, 0.3)
        for given in (images, (images / 255.0 - 0.5) / 0.3):  # raw pixels, prepared floats
            forms = [given.reshape(300, 64), given.reshape(300, 8, 8), given.reshape(300, 1, 8, 8)]
            expected, evaluation = model.predict(forms[0]), model.evaluate(forms[0], labels)
            for x in forms[1:]:
                np.testing.assert_array_equal(model.predict(x), expected)
                np.testing.assert_array_equal(model.predict_classes(x), expected.argmax(axis=1))
                assert model.evaluate(x, labels)["loss"] == evaluation["loss"]
                assert model.score(x, labels) == evaluation["accuracy"]
            # One image (1, 8, 8): a batch of at most four goes forward by row dot products, whose
            # sums run in another order than the batch's matrix product: equal to rounding.
            np.testing.assert_allclose(model.predict(forms[2][0]), expected[:1], rtol=1e-6, atol=1e-7)
        with pytest.raises(smallnet.ShapeMismatchError, match=r"\(N, 64\)"):
            model.predict(images.reshape(300, 2, 32))
        with pytest.raises(smallnet.ShapeMismatchError):
            model.predict(images.reshape(-1))


def test_shape_rule_with_channels():
    rng = np.random.default_rng(1)
    with model_for(shape=(3, 4, 4)) as model:
        x = rng.normal(size=(5, 3, 4, 4)).astype(np.float32)
        np.testing.assert_array_equal(model.predict(x.reshape(5, 48)), model.predict(x))
        # One (C, H, W) image: equal to rounding (few samples sum in another order, as above).
        np.testing.assert_allclose(model.predict(x[2]), model.predict(x)[2:3], rtol=1e-6, atol=1e-7)
        with pytest.raises(smallnet.ShapeMismatchError, match="one image"):
            model.predict(x[:, 0])  # (N, H, W) only fits one channel


# ---------------------------------------------------------- raw pixels and floats ---


def test_uint8_predict_prepares_with_the_models_preprocessing():
    images, _ = pixels()
    with model_for() as model:
        model.preprocessing = Preprocessing(1 / 255, 0.4, 0.3)
        model.eval()
        raw = model.predict(images)
        prepared = Preprocessing(1 / 255, 0.4, 0.3).apply(images)
        np.testing.assert_allclose(raw, model.predict(prepared), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model(images), model(prepared), rtol=1e-5, atol=1e-5)
        assert not model.training  # predict restores the mode


def test_uint8_without_preprocessing_is_refused():
    images, labels = pixels(30)
    with model_for() as model:
        assert model.preprocessing is None
        with pytest.raises(smallnet.BadStateError, match="preprocessing"):
            model.predict(images)
        with pytest.raises(smallnet.BadStateError, match="preprocessing"):
            model(images)


def test_uint8_dataset_keeps_bytes_and_its_statistics():
    images, labels = pixels(200)
    with smallnet.Dataset.from_numpy(images, labels, class_names=["a", "b", "c"]) as data:
        expected_mean = round(float((images / 255).mean()), 4)
        expected_std = round(float((images / 255).std()), 4)
        assert data.preprocessing.mean == pytest.approx((expected_mean,), abs=1e-6)
        assert data.preprocessing.std == pytest.approx((expected_std,), abs=1e-6)
        assert data.class_names == ["a", "b", "c"]
        got, got_labels = data.numpy()  # prepared with the dataset's own statistics
        np.testing.assert_allclose(got, data.preprocessing.apply(images), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got_labels, labels)
    given = Preprocessing(1 / 255, 0.5, 0.25)
    with smallnet.Dataset.from_numpy(images, labels, preprocessing={"pixel_scale": 1 / 255, "mean": 0.5,
                                                                    "std": 0.25}) as data:
        assert data.preprocessing == given
    with smallnet.Dataset.from_numpy(images.astype(np.float32), labels) as floats:
        assert floats.preprocessing.is_identity
        np.testing.assert_array_equal(floats.numpy()[0], images.astype(np.float32))
    with pytest.raises(smallnet.InvalidArgumentError, match="uint8"):
        smallnet.Dataset.from_numpy(images.astype(np.float32), labels, preprocessing=given)


def test_fit_records_the_datas_preprocessing_and_names():
    images, labels = pixels(300)
    with model_for() as model, smallnet.Dataset.from_numpy(images, labels, class_names=["x", "y", "z"]) as data:
        model.fit(data, epochs=1, progress=False)
        assert model.preprocessing == data.preprocessing
        assert model.class_names == ["x", "y", "z"]
    with model_for() as model:
        model.fit(images, labels, epochs=1, progress=False)
        assert model.preprocessing.mean == pytest.approx((round(float((images / 255).mean()), 4),), abs=1e-6)
        assert model.class_names == ["0", "1", "2"]  # unnamed
    floats, float_labels = synthetic(128)
    with model_for() as model:
        model.fit(floats, float_labels, epochs=1, progress=False)
        assert model.preprocessing.is_identity  # float data: used as given


def test_preprocessing_and_class_names_are_settable():
    with model_for() as model:
        model.preprocessing = {"pixel_scale": 1 / 255, "mean": [0.1], "std": [0.2]}
        assert model.preprocessing == Preprocessing(1 / 255, 0.1, 0.2)
        assert model.preprocessing.summary == "(x/255 − 0.1000)/0.2000"
        model.preprocessing = None
        assert model.preprocessing is None
        model.class_names = ["cat", "dog", "ünïcode"]
        assert model.class_names == ["cat", "dog", "ünïcode"]
        model.class_names = None
        assert model.class_names == ["0", "1", "2"]
        with pytest.raises(smallnet.InvalidArgumentError):
            model.class_names = ["only", "two"]
        with pytest.raises(smallnet.ShapeMismatchError):
            model.preprocessing = Preprocessing(1 / 255, (0.1, 0.2, 0.3), (1, 1, 1))  # 3 channels, model has 1
        with pytest.raises(smallnet.InvalidArgumentError):
            model.preprocessing = {"scale": 1}
    for bad in ({"pixel_scale": 0}, {"std": -1}, {"mean": (0, 0), "std": (1,)}, {"mean": float("nan")}):
        with pytest.raises(smallnet.InvalidArgumentError):
            Preprocessing(**bad)
    assert Preprocessing.fashion_mnist().summary == "(x/255 − 0.2860)/0.3530"
    assert Preprocessing.identity().is_identity
    assert "0.286" in repr(Preprocessing.fashion_mnist())


# ------------------------------------------------------------------ the warning ---


def test_warning_for_floats_on_another_scale():
    images, _ = pixels(200)
    with model_for() as model:
        model.preprocessing = Preprocessing.fashion_mnist()
        with pytest.warns(smallnet.InputStatisticsWarning, match=r"\[0, 1\].*\(x/255 − 0\.2860\)/0\.3530") as caught:
            model.predict(images / 255.0)
        assert caught[0].filename == __file__  # points at the caller's line
        with pytest.warns(smallnet.InputStatisticsWarning, match=r"\[0, 255\]"):
            model.predict(images.astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.predict(images)  # raw pixels: prepared by the model
            model.predict((images / 255.0 - 0.2860) / 0.3530)  # prepared floats
            model.predict((images / 255.0 - 0.2860) / 0.3530)
        assert issubclass(smallnet.InputStatisticsWarning, UserWarning)


def test_warning_for_uint8_to_an_identity_model_and_none_without_preprocessing():
    images, labels = pixels(100)
    with model_for() as model:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.predict(images / 255.0)  # no preprocessing recorded: nothing to compare with
        model.preprocessing = Preprocessing.identity()
        with pytest.warns(smallnet.InputStatisticsWarning, match="identity"):
            model.predict(images)
        with pytest.warns(smallnet.InputStatisticsWarning):
            model.evaluate(images, labels)


# ------------------------------------------------------ fit / evaluate on arrays ---


def test_fit_on_arrays_equals_fit_on_datasets():
    images, labels = synthetic(256)
    test_images, test_labels = synthetic(128, seed=1)
    with model_for(seed=3) as a, model_for(seed=3) as b:
        history_a = a.fit(images, labels, validation_data=(test_images, test_labels), epochs=2, progress=False)
        with smallnet.Dataset.from_numpy(images, labels) as train, \
                smallnet.Dataset.from_numpy(test_images, test_labels) as test:
            history_b = b.fit(train, validation=test, epochs=2, progress=False)
            for key in ("loss", "accuracy"):
                assert a.evaluate(test_images, test_labels)[key] == b.evaluate(test)[key]
            assert a.score(test) == b.score(test_images, test_labels)
        for x, y in zip(history_a, history_b):
            assert {k: v for k, v in x.items() if k != "seconds"} == {k: v for k, v in y.items() if k != "seconds"}
        for name, value in a.state_dict().items():
            np.testing.assert_array_equal(value, b.state_dict()[name])


def test_fit_argument_forms():
    images, labels = synthetic(128)
    with model_for() as model:
        optimizer = smallnet.SGD(model, lr=0.01)
        assert len(model.fit(images, labels, optimizer, epochs=1, progress=False)) == 1
        with smallnet.Dataset.from_numpy(images, labels) as data:
            assert len(model.fit(data, optimizer, epochs=1, progress=False)) == 1  # fit(train, optimizer)
            with pytest.raises(smallnet.InvalidArgumentError, match="not both"):
                model.fit(data, epochs=1, validation=data, validation_data=data, progress=False)
            with pytest.raises(smallnet.InvalidArgumentError, match="labels"):
                model.fit(data, labels, epochs=1, progress=False)
        with pytest.raises(smallnet.InvalidArgumentError):
            model.fit(images, epochs=1, progress=False)  # no labels
        with pytest.raises(smallnet.InvalidArgumentError):
            model.fit(images, labels, validation_data=images, epochs=1, progress=False)
        with pytest.raises(smallnet.InvalidArgumentError):
            model.fit(images, labels + 5, epochs=1, progress=False)  # labels beyond the outputs


def test_history_in_keras_form():
    images, labels = synthetic(128)
    with model_for() as model:
        history = model.fit(images, labels, epochs=2, progress=False)
        assert list(history.history) == ["loss", "accuracy", "lr"]
        history = model.fit(images, labels, validation_data=(images, labels), epochs=2, progress=False)
        keras = history.history
        assert list(keras) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
        assert keras["loss"] == history.column("train_loss")
        assert keras["val_accuracy"] == history.column("eval_accuracy")
        assert keras["lr"] == history.column("lr") and len(keras["lr"]) == 2


def test_recipe_follows_the_architecture():
    images, labels = synthetic(128, shape=(1, 8, 8))
    histories = {}
    for recipe in (None, "cnn", "fcn"):
        with smallnet.cnn([4], input_shape=(1, 8, 8), classes=3, seed=0) as model:
            history = model.fit(images, labels, epochs=1, recipe=recipe, threads=1, progress=False)
            histories[recipe] = [{k: v for k, v in e.items() if k != "seconds"} for e in history]
    assert histories[None] == histories["cnn"]
    assert histories[None] != histories["fcn"]


# -------------------------------------------------------- copies and pickles ---


def test_copies_are_independent():
    images, labels = pixels(300)
    with model_for() as model:
        model.fit(images, labels, epochs=1, progress=False)
        model.class_names = ["a", "b", "c"]
        for twin in (copy.deepcopy(model), copy.copy(model), model.copy()):
            assert twin.training and twin.preprocessing == model.preprocessing
            assert twin.class_names == ["a", "b", "c"] and twin.layers == model.layers
            state = model.state_dict()
            for name, value in twin.state_dict().items():
                np.testing.assert_array_equal(value, state[name])  # BatchNorm statistics included
            twin.fit(images, labels, epochs=1, progress=False)
            twin.class_names = None
            twin.preprocessing = None
            assert model.class_names == ["a", "b", "c"] and model.preprocessing is not None
            assert not np.array_equal(twin.get_tensor("1.weight"), model.get_tensor("1.weight"))
            np.testing.assert_array_equal(model.get_tensor("1.weight"), state["1.weight"])
            twin.close()
        twin = model.copy()
    np.testing.assert_array_equal(twin.predict(images), twin.predict(images))  # outlives the original
    twin.close()


@pytest.mark.parametrize("training", [True, False])
def test_pickle_round_trip(training):
    images, labels = pixels(300)
    with model_for() as model:
        model.fit(images, labels, epochs=1, progress=False)
        model.class_names = ["a", "b", "c"]
        model.train(training)
        with pickle.loads(pickle.dumps(model)) as restored:
            assert restored.training == training
            assert restored.preprocessing == model.preprocessing and restored.class_names == ["a", "b", "c"]
            np.testing.assert_array_equal(restored.predict(images), model.predict(images))
        with smallnet.Model.from_bytes(model.to_bytes()) as loaded:
            assert not loaded.training  # loaded in eval mode, as from a file
    with pytest.raises(smallnet.SmallNetIOError):
        smallnet.Model.from_bytes(b"not a checkpoint")


def test_datasets_and_optimizers_do_not_pickle():
    images, labels = pixels(30)
    with smallnet.Dataset.from_numpy(images, labels) as data, model_for() as model:
        with pytest.raises(TypeError, match="dataset"):
            pickle.dumps(data)
        with pytest.raises(TypeError, match="dataset"):
            copy.copy(data)
        with smallnet.Adam(model) as optimizer, pytest.raises(TypeError, match="optimizer"):
            pickle.dumps(optimizer)
