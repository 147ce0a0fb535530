"""Builds libsmallnet.so with the source tree's Makefile and ships it inside the package.

``pip install ./python`` runs ``make -C <source root> lib`` and copies the library, stripped,
into the package as ``smallnet/libsmallnet.so``. The source root is the repository around this
folder, or ``native/`` inside an sdist (``make sdist`` puts the Swift sources there). With
``SMALLNET_LIBRARY`` set to a library file, that file is copied instead and nothing is built.

The library is loaded with ctypes and holds no CPython extension, so wheels are tagged
``py3-none-<platform>``: one wheel serves every Python 3.

The package's licence is MIT (pyproject.toml); ``LICENSE`` here links to the source tree's, and
is shipped in the package's metadata when it can be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
LIBRARY = "libsmallnet.so"


def source_root() -> Path | None:
    """The smallnet source tree: the repository around this folder, or ``native/`` in an sdist."""
    for root in (HERE.parent, HERE / "native"):
        if (root / "Makefile").is_file() and (root / "Package.swift").is_file():
            return root
    return None


class build_py_with_library(build_py):
    """build_py that also builds the shared library and copies it into the package."""

    def run(self):
        super().run()
        source = self._library()
        target = Path(self.build_lib) / "smallnet" / LIBRARY
        target.parent.mkdir(parents=True, exist_ok=True)
        self.announce(f"copying {source} -> {target}", level=2)
        shutil.copyfile(source, target)  # the real file, not the symlink
        os.chmod(target, 0o755)
        if shutil.which("strip"):  # symbols and debug sections are most of an unstripped library
            subprocess.run(["strip", "--strip-unneeded", str(target)], check=True)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [str(Path(self.build_lib) / "smallnet" / LIBRARY)]

    def _library(self) -> Path:
        prebuilt = os.environ.get("SMALLNET_LIBRARY")
        if prebuilt:
            path = Path(prebuilt).resolve()
            if not path.is_file():
                raise SystemExit(f"SMALLNET_LIBRARY={prebuilt} is not a file")
            return path
        root = source_root()
        if root is None:
            raise SystemExit(
                f"cannot build libsmallnet: no Makefile and Package.swift in {HERE.parent} or {HERE / 'native'}; "
                "install from the smallnet source tree or its sdist, or set SMALLNET_LIBRARY to a built libsmallnet.so"
            )
        subprocess.run(["make", "-C", str(root), "lib"], check=True)
        path = (root / "build" / "lib" / LIBRARY).resolve()
        if not path.is_file():
            raise SystemExit(f"`make lib` did not produce {root / 'build' / 'lib' / LIBRARY}")
        return path


class bdist_wheel_for_any_python(bdist_wheel):
    """Tags the wheel py3-none-<platform>: ctypes needs no particular CPython or ABI."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class BinaryDistribution(Distribution):
    """The package carries a native library: wheels are platform-specific."""

    def has_ext_modules(self):
        return True


setup(
    cmdclass={"build_py": build_py_with_library, "bdist_wheel": bdist_wheel_for_any_python},
    distclass=BinaryDistribution,
    license_files=["LICENSE"] if (HERE / "LICENSE").is_file() else [],
)
