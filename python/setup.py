"""Builds libsmallnet.so with the source tree's Makefile and ships it inside the package.

``pip install ./python`` runs ``make -C <source root> lib`` and copies the library into the
package as ``smallnet/libsmallnet.so``. With ``SMALLNET_LIBRARY`` set to a library file, that
file is copied instead and nothing is built.

The package's licence is MIT (pyproject.toml); ``LICENSE`` here links to the source tree's, and
is shipped in the package's metadata when it can be reached.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIBRARY = "libsmallnet.so"


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

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [str(Path(self.build_lib) / "smallnet" / LIBRARY)]

    def _library(self) -> Path:
        prebuilt = os.environ.get("SMALLNET_LIBRARY")
        if prebuilt:
            path = Path(prebuilt).resolve()
            if not path.is_file():
                raise SystemExit(f"SMALLNET_LIBRARY={prebuilt} is not a file")
            return path
        if not (ROOT / "Makefile").is_file():
            raise SystemExit(
                f"cannot build libsmallnet: no Makefile in {ROOT}; install from the smallnet source tree "
                "or set SMALLNET_LIBRARY to a built libsmallnet.so"
            )
        subprocess.run(["make", "-C", str(ROOT), "lib"], check=True)
        path = (ROOT / "build" / "lib" / LIBRARY).resolve()
        if not path.is_file():
            raise SystemExit(f"`make lib` did not produce {ROOT / 'build' / 'lib' / LIBRARY}")
        return path


class BinaryDistribution(Distribution):
    """The package carries a native library: wheels are platform-specific."""

    def has_ext_modules(self):
        return True


setup(
    cmdclass={"build_py": build_py_with_library},
    distclass=BinaryDistribution,
    license_files=["LICENSE"] if (HERE / "LICENSE").is_file() else [],
)
