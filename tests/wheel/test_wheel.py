"""The Python packages as users get them (`make wheel`, `make sdist` into dist/).

The wheel: tagged for any Python 3 on manylinux x86-64, nothing for auditwheel to graft, the
library stripped; installed into a fresh virtual environment it trains a model in a folder
outside the source tree, with no Swift on PATH and no SMALLNET_LIBRARY. The sdist: the package
and the engine's sources, so that pip can build it. `SMALLNET_TEST_SDIST_BUILD=1` also installs
the sdist (a whole build of the library, several minutes).
"""
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
VERSION = "0.1.0"
DATA = os.environ.get("SMALLNET_DATA", "/usr/share/datasets/fashion-mnist")

# Trains from the installed package only: a small FCN on 2,000 FashionMNIST images when they are
# installed, else on separable synthetic images; prints where the package and library live.
TRAIN = r"""
import os, sys
import numpy as np
import smallnet
from smallnet import _lib
print("package", smallnet.__file__)
print("library", _lib.library_path)
data = sys.argv[1]
if os.path.isdir(data):
    train = smallnet.Dataset.fashion_mnist(train=True, directory=data).subset(0, 2000)
    test = smallnet.Dataset.fashion_mnist(train=False, directory=data).subset(0, 1000)
    floor = 0.6
else:
    rng = np.random.default_rng(0)
    prototypes = rng.normal(size=(10, 1, 28, 28)).astype(np.float32)
    labels = np.arange(2000) % 10
    images = (prototypes[labels] + 0.5 * rng.normal(size=(2000, 1, 28, 28))).astype(np.float32)
    train = test = smallnet.Dataset.from_numpy(images, labels)
    floor = 0.9
model = smallnet.fcn_for_budget(50_000)
model.fit(train, smallnet.AdamW(model, lr=0.002), epochs=1, batch_size=64, progress=False)
accuracy = model.evaluate(test)["accuracy"]
print("accuracy", accuracy)
assert accuracy > floor, accuracy
"""


def one(pattern: str) -> pathlib.Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {DIST} (make wheel sdist), found {found}"
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> pathlib.Path:
    return one(f"smallnet-{VERSION}-*.whl")


def test_wheel_is_for_any_python_on_manylinux(wheel):
    assert re.fullmatch(rf"smallnet-{VERSION}-py3-none-manylinux_2_\d+_x86_64\.whl", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        tags = [line for line in archive.read(f"smallnet-{VERSION}.dist-info/WHEEL").decode().splitlines()
                if line.startswith("Tag:")]
        assert len(tags) == 1 and re.fullmatch(r"Tag: py3-none-manylinux_2_\d+_x86_64", tags[0]), tags
        names = archive.namelist()
    assert "smallnet/libsmallnet.so" in names
    assert not [n for n in names if n.endswith(".so") and n != "smallnet/libsmallnet.so"], "nothing grafted"


def test_auditwheel_finds_nothing_to_graft(wheel):
    shown = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                           capture_output=True, text=True, check=True).stdout
    text = " ".join(shown.split())
    assert "is consistent with the following platform tag" in text, shown
    # auditwheel names the libraries it would have to copy in; a self-contained wheel has none.
    assert "external shared libraries" not in text and "graft" not in text, shown


def test_library_in_the_wheel_is_stripped(tmp_path, wheel):
    with zipfile.ZipFile(wheel) as archive:
        archive.extract("smallnet/libsmallnet.so", tmp_path)
    library = tmp_path / "smallnet" / "libsmallnet.so"
    sections = subprocess.run(["readelf", "-S", "-W", str(library)], capture_output=True, text=True, check=True).stdout
    assert ".symtab" not in sections and ".debug_" not in sections
    needed = subprocess.run(["readelf", "-d", "-W", str(library)], capture_output=True, text=True, check=True).stdout
    libraries = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", needed))
    assert libraries <= {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2"}, libraries
    print(f"libsmallnet.so in the wheel: {library.stat().st_size / 2**20:.1f} MiB, wheel {wheel.stat().st_size / 2**20:.1f} MiB")


def without_swift(environment: dict) -> dict:
    """The environment with /opt/swift and any folder holding `swift` off PATH, and no smallnet overrides."""
    env = {k: v for k, v in environment.items() if not k.startswith("SMALLNET_LIBRARY")}
    folders = [f for f in env.get("PATH", "").split(os.pathsep)
               if f and "swift" not in f and not (pathlib.Path(f) / "swift").exists()]
    env["PATH"] = os.pathsep.join(folders)
    return env


def fresh_venv(path: pathlib.Path) -> pathlib.Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def test_wheel_trains_in_a_fresh_venv_without_swift(tmp_path, wheel):
    python = fresh_venv(tmp_path / "venv")
    env = without_swift(os.environ)
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, env=env)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = subprocess.run([str(python), "-c", TRAIN, DATA], cwd=outside, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    venv = str(tmp_path / "venv")
    assert lines["package"].startswith(venv) and lines["library"].startswith(venv), result.stdout
    print(f"wheel in a fresh venv: accuracy {float(lines['accuracy']):.4f}")


def test_sdist_holds_what_a_build_from_source_needs():
    sdist = one(f"smallnet-{VERSION}.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("setup.py", "pyproject.toml", "smallnet/__init__.py", "smallnet/_lib.py", "LICENSE",
                   "native/Package.swift", "native/Makefile", "native/include/smallnet.h",
                   "native/scripts/install-deps.sh", "native/scripts/libsmallnet.map",
                   "native/Sources/SmallNet/Layers/Linear.swift", "native/Sources/SmallNetC/Guard.swift",
                   "native/Sources/CZlib/module.modulemap"):
        assert needed in names, needed
    assert not [n for n in names if "/.build" in n or n.startswith("native/build/") or n.endswith(".so")]


@pytest.mark.skipif(os.environ.get("SMALLNET_TEST_SDIST_BUILD") != "1", reason="builds the whole library: SMALLNET_TEST_SDIST_BUILD=1")
def test_sdist_builds_and_trains(tmp_path):
    sdist = one(f"smallnet-{VERSION}.tar.gz")
    python = fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMALLNET_LIBRARY")}
    build = subprocess.run([str(python), "-m", "pip", "install", "-q", str(sdist)], env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = subprocess.run([str(python), "-c", TRAIN, DATA], cwd=outside, env=without_swift(env), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
