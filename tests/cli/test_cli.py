"""The command-line tool end to end: `train --save` → `evaluate` → `predict` on the real
FashionMNIST, the same model in C and Python, bad input of every kind, install and uninstall."""
import functools
import gzip
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "release" / "smallnet"
LIBRARY = ROOT / "build" / "lib" / "libsmallnet.so"
DATA = pathlib.Path(os.environ.get("SMALLNET_DATA", "/usr/share/datasets/fashion-mnist"))
TEST_IMAGES = DATA / "t10k-images-idx3-ubyte.gz"
TEST_LABELS = DATA / "t10k-labels-idx1-ubyte.gz"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
PREPROCESSING = "(x/255 − 0.286)/0.353"

pytestmark = pytest.mark.skipif(
    not TEST_IMAGES.exists() and os.environ.get("SMALLNET_REQUIRE_DATA") != "1", reason="FashionMNIST is not installed")


def smallnet(*args, timeout=300, **kwargs):
    return subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=timeout, **kwargs)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def assert_one_error_line(result):
    """A refused input: exit status 1 (not a signal, not a crash), one line on stderr."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("smallnet: error: "), result.stderr
    assert "Fatal error" not in result.stderr and "Stack dump" not in result.stderr
    return lines[0]


@functools.lru_cache(maxsize=None)
def load_test_images():
    raw = gzip.decompress(TEST_IMAGES.read_bytes())
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)


@functools.lru_cache(maxsize=None)
def load_test_labels():
    return np.frombuffer(gzip.decompress(TEST_LABELS.read_bytes()), np.uint8, offset=8)


def write_pgm(path, image, ascii=False, maxval=255):
    h, w = image.shape
    if ascii:
        rows = "\n".join(" ".join(str(int(v)) for v in row) for row in image)
        path.write_text(f"P2\n# written by test_cli.py\n{w} {h}\n{maxval}\n{rows}\n")
    else:
        path.write_bytes(f"P5\n{w} {h}\n{maxval}\n".encode() + image.astype(np.uint8).tobytes())
    return path


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run (one epoch on 2,000 images), saved."""
    directory = tmp_path_factory.mktemp("trained")
    model, results = directory / "fcn.safetensors", directory / "train.json"
    run = ok(smallnet("train", "--epochs", 1, "--train-limit", 2000, "--save", model, "--json", results))
    return {"model": model, "stdout": run.stdout, "json": json.loads(results.read_text()), "dir": directory}


@pytest.fixture(scope="module")
def evaluated(trained):
    out = trained["dir"] / "evaluate.json"
    run = ok(smallnet("evaluate", trained["model"], "--json", out))
    return {"stdout": run.stdout, "json": json.loads(out.read_text())}


@pytest.fixture(scope="module")
def idx_predictions(trained):
    out = trained["dir"] / "predict-idx.json"
    ok(smallnet("predict", trained["model"], TEST_IMAGES, "--json", out))
    return json.loads(out.read_text())


# ------------------------------------------------------------------ train --save, evaluate


def test_train_saves_the_model_and_says_where(trained):
    assert f"saved the model to {trained['model']}" in trained["stdout"]
    assert trained["model"].stat().st_size > 100_000 * 4
    results = trained["json"]
    assert results["smallnet_version"] and results["schema_version"] == 1
    assert results["checkpoint"] == str(trained["model"])


def test_checkpoint_records_preprocessing_class_names_and_settings(trained):
    data = trained["model"].read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8:8 + size])["__metadata__"]
    assert json.loads(metadata["smallnet.class_names"]) == CLASS_NAMES
    preprocessing = json.loads(metadata["smallnet.preprocessing"])
    assert preprocessing["mean"] == [0.286] and preprocessing["std"] == [0.353]
    config = json.loads(metadata["smallnet.training_config"])
    assert config == trained["json"]["config"]
    assert config["arch"] == "fcn" and config["epochs"] == 1


def test_evaluate_gives_the_accuracy_training_reported(trained, evaluated):
    result = evaluated["json"]
    assert result["smallnet_version"] and result["schema_version"] == 1
    assert result["accuracy"] == trained["json"]["test_accuracy"]
    assert result["loss"] == pytest.approx(trained["json"]["test_loss"], rel=1e-5)
    assert result["confusion"] == trained["json"]["confusion"]
    assert result["images"] == 10_000 and sum(map(sum, result["confusion"])) == 10_000
    assert result["class_names"] == CLASS_NAMES
    assert len(result["per_class_accuracy"]) == 10
    printed = next(line for line in trained["stdout"].splitlines() if line.startswith("test accuracy"))
    percent = printed.split()[2]
    assert f"accuracy {percent} %" in evaluated["stdout"]
    assert "confusion matrix" in evaluated["stdout"] and "per-class accuracy" in evaluated["stdout"]
    for name in CLASS_NAMES:
        assert name in evaluated["stdout"]
    assert PREPROCESSING in evaluated["stdout"]


def test_evaluate_on_idx_files_matches_the_test_split(trained, evaluated, tmp_path):
    # Raw (uncompressed) IDX files given by name give the same figures as the default data.
    images = write_idx(tmp_path / "images.idx", load_test_images())
    labels = write_idx(tmp_path / "labels.idx", load_test_labels())
    out = tmp_path / "e.json"
    ok(smallnet("evaluate", trained["model"], "--images", images, "--labels", labels, "--json", out))
    result = json.loads(out.read_text())
    assert result["accuracy"] == evaluated["json"]["accuracy"]
    assert result["confusion"] == evaluated["json"]["confusion"]


def test_a_cnn_travels_too(tmp_path):
    model, results = tmp_path / "cnn.safetensors", tmp_path / "train.json"
    ok(smallnet("train", "--arch", "cnn", "--params", 10_000, "--epochs", 1, "--train-limit", 500,
                "--save", model, "--json", results))
    out = tmp_path / "e.json"
    ok(smallnet("evaluate", model, "--json", out))
    assert json.loads(out.read_text())["accuracy"] == json.loads(results.read_text())["test_accuracy"]
    run = ok(smallnet("predict", model, write_pgm(tmp_path / "a.pgm", load_test_images()[0])))
    name, rest = run.stdout.split(maxsplit=1)
    assert name == str(tmp_path / "a.pgm") and any(rest.startswith(c) for c in CLASS_NAMES), run.stdout


def test_json_prints_float32_settings_as_float32(tmp_path):
    out = tmp_path / "r.json"
    ok(smallnet("train", "--epochs", 0, "--train-limit", 100, "--optimizer", "sgd", "--lr", 0.05,
                "--momentum", 0.9, "--weight-decay", 1e-5, "--threads", 1, "--json", out))
    text = out.read_text()
    assert '"lr": 0.05,' in text and '"momentum": 0.9,' in text and '"weight_decay": 1e-05,' in text
    assert "0.0500000" not in text and "0.899999" not in text
    result = json.loads(text)
    assert result["lr"] == 0.05 and result["config"]["lr"] == 0.05


# ------------------------------------------------------------------------------- predict


def test_predict_pgm_and_idx_give_the_same_classes_and_probabilities(trained, idx_predictions, tmp_path):
    images = load_test_images()[:200]
    paths = [write_pgm(tmp_path / f"{i:03d}.pgm", image, ascii=i % 2 == 1) for i, image in enumerate(images)]
    out = tmp_path / "p.json"
    run = ok(smallnet("predict", trained["model"], *paths, "--json", out))
    from_pgm = json.loads(out.read_text())
    assert from_pgm["smallnet_version"] and from_pgm["schema_version"] == 1
    assert from_pgm["class_names"] == CLASS_NAMES
    from_idx = idx_predictions["predictions"][:200]
    assert [p["input"] for p in from_pgm["predictions"]] == [str(p) for p in paths]
    assert [p["input"] for p in from_idx] == [f"{TEST_IMAGES}[{i}]" for i in range(200)]
    assert [(p["class"], p["class_name"]) for p in from_pgm["predictions"]] == [(p["class"], p["class_name"]) for p in from_idx]
    # The same pixels give the same probabilities whatever else is in the batch, up to the
    # last bits: the last 72 PGM images share a batch, their IDX twins are in a batch of 128,
    # and a matrix product may sum in another order for another batch size.
    worst = max(abs(x - y) for a, b in zip(from_pgm["predictions"], from_idx)
                for x, y in zip(a["probabilities"], b["probabilities"]))
    assert worst <= 1e-6, f"probabilities differ by {worst}"
    for a in from_pgm["predictions"]:
        assert a["class_name"] == CLASS_NAMES[a["class"]]
        assert a["probability"] == max(a["probabilities"])
        assert sum(a["probabilities"]) == pytest.approx(1, abs=1e-5)
    # One line per image: its name, the class name and its probability.
    lines = run.stdout.splitlines()
    assert len(lines) == 200
    first = from_pgm["predictions"][0]
    assert lines[0].split()[0] == str(paths[0])
    assert first["class_name"] in lines[0] and f"{first['probability']:.4f}" in lines[0]
    assert run.stderr == ""  # test images: no warning


def test_predict_gives_the_classes_evaluate_counts(evaluated, idx_predictions):
    labels = load_test_labels()
    predictions = idx_predictions["predictions"]
    assert len(predictions) == 10_000
    confusion = np.zeros((10, 10), dtype=int)
    for label, p in zip(labels, predictions):
        confusion[label, p["class"]] += 1
    assert confusion.tolist() == evaluated["json"]["confusion"]


def test_predict_reads_maxval_below_255_and_single_image_idx(trained, tmp_path):
    image = load_test_images()[0]
    out_255, out_15, out_idx = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    ok(smallnet("predict", trained["model"], write_pgm(tmp_path / "a.pgm", image), "--json", out_255))
    # A 4-bit image reads as the same picture in 8 bits: v·255/15, as 17·v.
    ok(smallnet("predict", trained["model"], write_pgm(tmp_path / "b.pgm", image // 17, maxval=15), "--json", out_15))
    ok(smallnet("predict", trained["model"], write_idx(tmp_path / "one.idx", (image // 17) * 17), "--json", out_idx))
    b, c = (json.loads(p.read_text())["predictions"][0] for p in (out_15, out_idx))
    assert b["probabilities"] == c["probabilities"]
    assert c["input"] == str(tmp_path / "one.idx")  # an (H, W) array is one image, no index
    a = json.loads(out_255.read_text())["predictions"][0]
    assert a["probabilities"] != b["probabilities"]  # 4 bits are not 8


def test_predict_warns_when_inputs_do_not_look_like_the_training_images(trained, tmp_path):
    inverted = write_pgm(tmp_path / "inverted.pgm", 255 - load_test_images()[0])
    run = ok(smallnet("predict", trained["model"], inverted))
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("smallnet: warning: ") and PREPROCESSING in lines[0]
    assert len(run.stdout.splitlines()) == 1


def test_predict_refuses_a_model_without_preprocessing(trained, tmp_path):
    data = trained["model"].read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    del header["__metadata__"]["smallnet.preprocessing"]
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    old = tmp_path / "old.safetensors"
    old.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + size:])
    line = assert_one_error_line(smallnet("predict", old, write_pgm(tmp_path / "x.pgm", load_test_images()[0])))
    assert "preprocessing" in line


# ------------------------------------------------------------------------------ bad input


def bad_files(directory, model):
    """Files that are wrong in one way each, by name."""
    d = directory
    image = load_test_images()[0]
    pgm = f"P5\n28 28\n255\n".encode() + image.tobytes()
    data = model.read_bytes()
    files = {
        "missing": d / "missing.pgm",
        "directory": d,
        "empty": d / "empty.pgm",
        "truncated_p5": d / "truncated.pgm",
        "truncated_p2": d / "truncated2.pgm",
        "wrong_size_pgm": write_pgm(d / "big.pgm", np.zeros((32, 30), np.uint8)),
        "wrong_size_idx": write_idx(d / "big.idx", np.zeros((3, 32, 32), np.uint8)),
        "labels_idx": TEST_LABELS,
        "ppm": d / "colour.ppm",
        "maxval_16bit": d / "deep.pgm",
        "above_maxval": d / "above.pgm",
        "text": d / "notes.txt",
        "corrupt_gz": d / "broken.idx.gz",
        "truncated_idx": d / "truncated.idx",
        "trailing_p5": d / "two.pgm",
        "junk_checkpoint": d / "junk.safetensors",
        "truncated_checkpoint": d / "truncated.safetensors",
        "empty_checkpoint": d / "empty.safetensors",
        "not_a_checkpoint": d / "notes.safetensors",
    }
    files["empty"].write_bytes(b"")
    files["truncated_p5"].write_bytes(pgm[:500])
    files["truncated_p2"].write_text("P2\n28 28\n255\n" + " ".join(map(str, image.ravel()[:700])) + "\n")
    files["ppm"].write_bytes(b"P6\n28 28\n255\n" + bytes(28 * 28 * 3))
    files["maxval_16bit"].write_bytes(b"P5\n28 28\n65535\n" + bytes(28 * 28 * 2))
    files["above_maxval"].write_text("P2\n2 1\n15\n3 200\n")
    files["text"].write_text("these are not pixels\n")
    gz = gzip.compress(write_idx(d / "ok.idx", load_test_images()[:10]).read_bytes())
    files["corrupt_gz"].write_bytes(gz[: len(gz) // 2])
    files["truncated_idx"].write_bytes((d / "ok.idx").read_bytes()[:3000])
    files["trailing_p5"].write_bytes(pgm + pgm)
    files["junk_checkpoint"].write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    files["truncated_checkpoint"].write_bytes(data[: len(data) // 2])
    files["empty_checkpoint"].write_bytes(b"")
    files["not_a_checkpoint"].write_text('{"hello": "world"}')
    return files


@pytest.fixture(scope="module")
def bad(trained, tmp_path_factory):
    return bad_files(tmp_path_factory.mktemp("bad"), trained["model"])


@pytest.mark.parametrize("name, expected", [
    ("missing", "no such image file"),
    ("directory", "is a directory"),
    ("empty", "empty file"),
    ("truncated_p5", "truncated"),
    ("truncated_p2", "truncated"),
    ("wrong_size_pgm", "30×32 pixels (width×height); this model takes 28×28 images only"),
    ("wrong_size_idx", "32×32 pixels (width×height); this model takes 28×28 images only"),
    ("labels_idx", "not images"),
    ("ppm", "PPM (colour)"),
    ("maxval_16bit", "maxval 65535"),
    ("above_maxval", "above maxval 15"),
    ("text", "not a PGM image"),
    ("corrupt_gz", "gzip"),
    ("truncated_idx", "truncated"),
    ("trailing_p5", "one image per file"),
])
def test_predict_refuses_bad_images(trained, bad, name, expected):
    good = write_pgm(bad["directory"] / "good.pgm", load_test_images()[0])
    line = assert_one_error_line(smallnet("predict", trained["model"], good, bad[name]))
    assert expected in line, line
    assert str(bad[name]) in line


@pytest.mark.parametrize("name, expected", [
    ("missing", "no such checkpoint file"),
    ("directory", "is a directory"),
    ("junk_checkpoint", "safetensors header"),
    ("truncated_checkpoint", ""),
    ("empty_checkpoint", "too short"),
    ("not_a_checkpoint", ""),
])
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_commands_refuse_bad_checkpoints(bad, command, name, expected):
    path = bad["missing"].with_suffix(".safetensors") if name == "missing" else bad[name]
    extra = [write_pgm(bad["directory"] / "good.pgm", load_test_images()[0])] if command == "predict" else []
    line = assert_one_error_line(smallnet(command, path, *extra))
    assert expected in line and str(path) in line, line


def test_predict_refuses_an_empty_list(trained):
    line = assert_one_error_line(smallnet("predict", trained["model"]))
    assert "no input images" in line


@pytest.mark.parametrize("args, expected", [
    (["--images", "IMAGES"], "--images and --labels go together"),
    (["--images", "IMAGES", "--labels", "TRAIN_LABELS"], "60000 labels for the 10000 images"),
    (["--images", "LABELS", "--labels", "LABELS"], "expected images of 3 dimensions"),
    (["--data", "EMPTY_DIR"], "not found"),
    (["--data", "MISSING_DIR"], "does not exist"),
    (["--threads", "0"], "--threads must be in 1...64"),
])
def test_evaluate_refuses_bad_data(trained, tmp_path, args, expected):
    names = {"IMAGES": TEST_IMAGES, "LABELS": TEST_LABELS, "TRAIN_LABELS": DATA / "train-labels-idx1-ubyte.gz",
             "EMPTY_DIR": tmp_path, "MISSING_DIR": tmp_path / "nowhere"}
    line = assert_one_error_line(smallnet("evaluate", trained["model"], *[names.get(a, a) for a in args]))
    assert expected in line, line


def test_unreadable_files_are_refused(trained):
    """A file without read permission (run as an unprivileged user when the tests run as root)."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="smallnet-unreadable-"))
    try:
        directory.chmod(0o755)
        model = pathlib.Path(shutil.copy(trained["model"], directory / "model.safetensors"))
        model.chmod(0o644)
        image = write_pgm(directory / "image.pgm", load_test_images()[0])
        image.chmod(0o000)
        locked = directory / "locked.safetensors"
        shutil.copy(model, locked)
        locked.chmod(0o000)
        prefix = []
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip("running as root without setpriv: permissions do not apply")
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for args, unreadable in ((["predict", model, image], image), (["evaluate", locked], locked),
                                 (["predict", locked, image], locked)):
            run = subprocess.run(prefix + [str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=60)
            line = assert_one_error_line(run)
            assert "Permission denied" in line and str(unreadable) in line, line
    finally:
        shutil.rmtree(directory)


@pytest.mark.parametrize("target, expected", [
    ("nowhere/model.safetensors", "does not exist"),
    (".", "is a directory"),
])
def test_train_checks_the_save_path_before_training(tmp_path, target, expected):
    run = smallnet("train", "--epochs", 1, "--train-limit", 500, "--save", tmp_path / target, timeout=60)
    line = assert_one_error_line(run)
    assert expected in line
    assert "epoch" not in run.stdout  # refused before any work


# -------------------------------------------------- the same model in C and Python


def test_the_model_travels_to_c_and_python(trained, evaluated, idx_predictions, tmp_path):
    """The chain in the README: the CLI's checkpoint classified by examples/c/classify.c (raw
    bytes through sn_model_predict_u8) and loaded by the Python module, with the same results."""
    if not LIBRARY.exists():
        pytest.skip("build/lib/libsmallnet.so is not built (make lib)")
    classify = tmp_path / "classify"
    subprocess.run(["cc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{ROOT / 'include'}",
                    str(ROOT / "examples" / "c" / "classify.c"), f"-L{LIBRARY.parent}", "-lsmallnet", "-lz",
                    f"-Wl,-rpath,{LIBRARY.parent}", "-o", str(classify)], check=True)
    run = subprocess.run([str(classify), str(trained["model"]), "10000"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    accuracy = 100 * evaluated["json"]["accuracy"]
    assert f"10000 images, accuracy {accuracy:.2f} %" in run.stdout
    assert run.stdout.splitlines()[0].startswith("image 0: Ankle boot")
    # The images it names are classed as the CLI classes them (its accuracy over all 10,000 is
    # evaluate's, above).
    c_classes = [line.split(":")[1].split("  ")[0].strip() for line in run.stdout.splitlines() if line.startswith("image ")]
    assert len(c_classes) == 8
    assert c_classes == [p["class_name"] for p in idx_predictions["predictions"][:8]]

    script = f"""
import gzip, json, numpy as np, smallnet
model = smallnet.Model.load({str(trained['model'])!r})
test = smallnet.Dataset.fashion_mnist(train=False)
raw = np.frombuffer(gzip.decompress(open({str(TEST_IMAGES)!r}, "rb").read()), np.uint8, offset=16).reshape(-1, 28, 28)
print(json.dumps({{"accuracy": float(model.evaluate(test)["accuracy"]), "class_names": list(model.class_names),
                  "probabilities": model.predict(raw[:200]).tolist()}}))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), SMALLNET_LIBRARY=str(LIBRARY))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    python = json.loads(run.stdout.splitlines()[-1])
    assert python["accuracy"] == pytest.approx(evaluated["json"]["accuracy"], abs=1e-6)
    assert python["class_names"] == CLASS_NAMES
    cli = [p["probabilities"] for p in idx_predictions["predictions"][:200]]
    assert np.argmax(python["probabilities"], axis=1).tolist() == np.argmax(cli, axis=1).tolist()
    np.testing.assert_allclose(python["probabilities"], cli, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------- install, uninstall


def test_install_puts_the_tool_beside_the_library_and_uninstall_removes_everything(tmp_path):
    prefix = tmp_path / "prefix"
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "MAKEFLAGS", "MAKELEVEL")}
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "install", f"PREFIX={prefix}"],
                         capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"note: {prefix}/lib is not on the loader's path" in run.stdout
    installed = sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*") if not p.is_dir())
    assert installed == sorted([
        "bin/smallnet", "include/smallnet.h", "lib/libsmallnet.so", "lib/libsmallnet.so.0", "lib/libsmallnet.so.0.1.0",
        "lib/pkgconfig/smallnet.pc", "share/doc/smallnet/LICENSE"])
    version = subprocess.run([str(prefix / "bin" / "smallnet"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == "0.1.0"
    assert "Copyright (c) 2026 the smallnet authors" in (prefix / "share/doc/smallnet/LICENSE").read_text()
    # On the loader's path already: no note.
    env["LD_LIBRARY_PATH"] = f"{prefix}/lib"
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "install", f"PREFIX={prefix}"],
                         capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0 and "note:" not in run.stdout, run.stdout + run.stderr
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "uninstall", f"PREFIX={prefix}"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert [p for p in prefix.rglob("*") if not p.is_dir()] == []


@pytest.mark.parametrize("args", [
    ["--arch", "fcn", "--params", "50000", "--optimizer", "sgd", "--lr", "1e6"],
    ["--arch", "cnn", "--params", "10000", "--lr", "1e6"],
])
def test_a_diverging_run_stops_with_a_message_not_a_signal(args):
    line = assert_one_error_line(smallnet("train", *args, "--epochs", "2", "--train-limit", "2000"))
    assert "diverged" in line, line


@pytest.mark.parametrize("flag, value", [("--dropout", "nan"), ("--warmup", "nan"), ("--lr", "inf")])
def test_train_refuses_values_that_are_not_numbers(flag, value):
    line = assert_one_error_line(smallnet("train", flag, value, "--epochs", "1", "--train-limit", "500"))
    assert flag.lstrip("-") in line or value in line, line


def test_an_absurd_warmup_trains_without_a_trap():
    ok(smallnet("train", "--warmup", "1e30", "--epochs", "1", "--train-limit", "500"))


# ------------------------------------------------------------ optimizers and schedules


def test_train_with_the_newer_optimizers_schedules_and_clipping(tmp_path):
    out = tmp_path / "r.json"
    ok(smallnet("train", "--epochs", 2, "--train-limit", 600, "--validation", 100, "--optimizer", "adagrad",
                "--schedule", "plateau", "--patience", 0, "--factor", 0.5, "--clip-grad-norm", 1,
                "--clip-grad-value", 0.5, "--initialization", "orthogonal", "--threads", 1, "--json", out))
    config = json.loads(out.read_text())["config"]
    assert config["optimizer"] == "adagrad" and config["schedule"] == "plateau" and config["patience"] == 0
    assert config["clip_grad_norm"] == 1 and config["clip_grad_value"] == 0.5 and config["init"] == "orthogonal"
    ok(smallnet("train", "--epochs", 1, "--train-limit", 300, "--optimizer", "adamw", "--amsgrad",
                "--schedule", "one-cycle", "--json", out))
    config = json.loads(out.read_text())["config"]
    assert config["amsgrad"] is True and config["schedule"] == "one-cycle" and config["pct_start"] == 0.3
    ok(smallnet("train", "--epochs", 1, "--train-limit", 300, "--schedule", "exponential", "--gamma", 0.5,
                "--warmup", 0.5, "--json", out))
    config = json.loads(out.read_text())["config"]
    assert config["schedule"] == "exponential" and config["gamma"] == 0.5 and config["warmup_epochs"] == 0.5


@pytest.mark.parametrize("args, expected", [
    (["--optimizer", "sgd", "--amsgrad"], "amsgrad"),
    (["--clip-grad-norm=-1"], "clip_grad_norm"),
    (["--clip-grad-value", "nan"], "clip_grad_value"),
    (["--schedule", "plateau"], "--validation"),
    (["--schedule", "cyclic"], "--schedule"),
    (["--schedule", "plateau", "--validation", "100", "--patience=-2"], "patience"),
    (["--schedule", "plateau", "--validation", "100", "--factor", "1"], "factor"),
    (["--initialization", "he"], "--initialization"),
])
def test_train_refuses_bad_optimizer_and_schedule_settings(args, expected):
    line = assert_one_error_line(smallnet("train", *args, "--epochs", "1", "--train-limit", "300"))
    assert expected in line, line


# ------------------------------------------------------------------ profile


def test_profile_times_every_layer_of_a_budget_model_and_a_checkpoint(trained, tmp_path):
    out = tmp_path / "profile.json"
    result = ok(smallnet("profile", "--arch", "cnn", "--budget", 10000, "--batch-size", 16, "--seconds", 0.2,
                         "--threads", 1, "--json", out))
    assert "FMA limit" in result.stdout and "% of the FMA limit" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["batch_size"] == 16 and figures["threads"] == 1 and figures["steps"] >= 3
    kinds = [layer["layer"].split("(")[0] for layer in figures["layers"]]
    # Each BatchNorm2d → ReLU → MaxPool2d(2) on 28×28 and 14×14 planes is one fused pass: one row, the first
    # joined with the first convolution; on 7×7 planes BatchNorm2d → ReLU is one row, the pool another.
    assert kinds[:3] == ["Conv2d", "Conv2d", "BatchNorm2d"] and kinds[-1] == "Linear"
    first = figures["layers"][0]
    assert " → BatchNorm2d(" in first["layer"] and first["layer"].endswith(" → ReLU → MaxPool2d(2)")
    assert first["layer_count"] == 4
    assert figures["layers"][2]["layer"].endswith(" → ReLU → MaxPool2d(2)") and figures["layers"][2]["layer_count"] == 3
    assert figures["layers"][4]["layer"].endswith(") → ReLU") and figures["layers"][4]["layer_count"] == 2
    parts = sum(l["forward_seconds"] + l["backward_seconds"] for l in figures["layers"])
    assert abs(parts + figures["loss_seconds"] + figures["optimizer_seconds"] - figures["step_seconds"]) < 1e-9
    assert abs(sum(l["share"] for l in figures["layers"]) + (figures["loss_seconds"] + figures["optimizer_seconds"])
               / figures["step_seconds"] - 1) < 1e-9
    assert figures["fraction_of_fma_limit"] > 0 and figures["fma_limit_gflops"] > 0
    # One row per step, numbered; the first step's two parts (convolution, block) under it, marked "·".
    lines = result.stdout.splitlines()[3:3 + len(kinds) + 2]
    assert [line.split()[0] for line in lines[1:3]] == ["·", "·"], lines
    for line in lines[:1] + lines[3:]:
        assert line.split()[0].isdigit(), line
    assert [part["layer"].split("(")[0] for part in first["parts"]] == ["Conv2d", "BatchNorm2d"]
    assert first["parts"][0]["forward_flops"] == first["forward_flops"] and first["parts"][1]["layer_count"] == 3
    assert "BatchNorm, ReLU and max-pooling: " in result.stdout and 0 < figures["batchnorm_relu_maxpool_share"] < 1
    checkpoint = ok(smallnet("profile", "--checkpoint", trained["model"], "--seconds", 0.1, "--threads", 1))
    assert "Linear(784 → " in checkpoint.stdout
    ok(smallnet("profile", "--arch", "cnn", "--budget", 10000, "--batch-size", 16, "--seconds", 0.1, "--threads", 1,
                "--unfused", "--json", out))
    unfused = [layer["layer"].split("(")[0] for layer in json.loads(out.read_text())["layers"]]
    # Unfused, the two blocks' five joined layers and the 7×7 ReLU get rows of their own.
    assert unfused[:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] and len(unfused) == len(kinds) + 6
    # Inference: the same rows, forward passes only; a batch of one is fine for BatchNorm in eval mode.
    result = ok(smallnet("profile", "--arch", "fcn", "--budget", 50000, "--batch-size", 1, "--seconds", 0.1,
                         "--threads", 1, "--inference", "--json", out))
    figures = json.loads(out.read_text())
    assert figures["mode"] == "inference" and figures["batch_size"] == 1
    assert all(l["backward_seconds"] == 0 and l["forward_seconds"] > 0 for l in figures["layers"])
    assert figures["loss_seconds"] == 0 and figures["optimizer_seconds"] == 0
    assert "inference passes" in result.stdout and result.stdout.strip().splitlines()[-1].startswith("pass ")


@pytest.mark.parametrize("args, expected", [
    (["--arch", "rnn"], "--arch must be fcn or cnn"),
    (["--batch-size", "0"], "batch size must be in 1...65536"),
    (["--seconds=-1"], "--seconds must be in (0, 600]"),
    (["--arch", "fcn", "--batch-size", "1"], "BatchNorm needs at least 2 samples"),
])
def test_profile_refuses_bad_settings(args, expected):
    result = smallnet("profile", *args)
    assert_one_error_line(result)
    assert expected in result.stderr, result.stderr


def test_bench_times_matrix_products_of_given_shapes(tmp_path):
    out = tmp_path / "gemm.json"
    result = ok(smallnet("bench", "--gemm", "62x392x270,1x1x1,127x49x558", "--threads", 1, "--seconds", 0.05,
                         "--json", out))
    assert "FMA limit" in result.stdout and "127×49×558" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["threads"] == 1 and figures["fma_limit_gflops"] > 0
    assert [(r["m"], r["n"], r["k"]) for r in figures["gemm"]] == [(62, 392, 270), (1, 1, 1), (127, 49, 558)]
    assert all(r["best_gflops"] >= r["median_gflops"] > 0 for r in figures["gemm"])


@pytest.mark.parametrize("shapes", ["62x392", "0x1x1", "5000x1x1", "axbxc", "62x392x270,", "1x1x1x1"])
def test_bench_refuses_bad_gemm_shapes(shapes):
    result = smallnet("bench", "--gemm", shapes)
    assert_one_error_line(result)
    assert "--gemm takes shapes MxNxK" in result.stderr, result.stderr


def test_a_model_of_the_newer_layers_goes_through_the_cli(tmp_path):
    """A depthwise-separable block with GELU and LayerNorm, built and trained from Python, then
    evaluated and used for predictions by the CLI from its checkpoint: the same accuracy."""
    if not LIBRARY.exists():
        pytest.skip("build/lib/libsmallnet.so is not built (make lib)")
    path = tmp_path / "mixed.safetensors"
    script = f"""
import json, smallnet
train = smallnet.Dataset.fashion_mnist(train=True).subset(0, 2000)
test = smallnet.Dataset.fashion_mnist(train=False)
model = (smallnet.Model((1, 28, 28)).add_conv2d(8, 3, padding=1, seed=1).add_conv2d(8, 3, padding="same", groups=8, seed=2)
         .add_conv2d(12, 1, seed=3).add_gelu().add_maxpool2d(2).add_layernorm(3).add_flatten().add_linear(10, seed=4))
model.fit(train, smallnet.AdamW(model, lr=0.003), epochs=1, batch_size=64, progress=False)
model.save({str(path)!r})
print(json.dumps({{"accuracy": float(model.evaluate(test)["accuracy"])}}))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), SMALLNET_LIBRARY=str(LIBRARY))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    python = json.loads(run.stdout.splitlines()[-1])
    out = tmp_path / "evaluate.json"
    ok(smallnet("evaluate", path, "--json", out))
    cli = json.loads(out.read_text())
    assert cli["accuracy"] == pytest.approx(python["accuracy"], abs=1e-6) and cli["accuracy"] > 0.5, (cli, python)
