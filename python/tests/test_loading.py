"""Finding and loading libsmallnet.so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smallnet import _lib

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_error_lists_every_path_tried(tmp_path):
    not_a_library = tmp_path / "libsmallnet.so"
    not_a_library.write_bytes(b"not an ELF file")
    candidates = [("SMALLNET_LIBRARY", tmp_path / "missing.so"), ("package", not_a_library)]
    with pytest.raises(_lib.LibraryNotFoundError) as info:
        _lib.load_library(candidates)
    error = info.value
    assert isinstance(error, OSError)
    message = str(error)
    assert str(tmp_path / "missing.so") in message and "no such file" in message
    assert str(not_a_library) in message
    assert len(error.tried) == 2
    assert "SMALLNET_LIBRARY" in message


def test_candidates_in_order(monkeypatch):
    monkeypatch.setenv("SMALLNET_LIBRARY", "/some/where/libsmallnet.so")
    origins = [origin for origin, _ in _lib.candidate_paths()]
    assert origins == ["SMALLNET_LIBRARY", "package", "source tree"]
    paths = [path for _, path in _lib.candidate_paths()]
    assert paths[0] == Path("/some/where/libsmallnet.so")
    assert paths[1] == Path(_lib.__file__).resolve().parent / "libsmallnet.so"
    assert paths[2] == PYTHON_DIR.parent / "build" / "lib" / "libsmallnet.so"
    monkeypatch.delenv("SMALLNET_LIBRARY")
    assert [origin for origin, _ in _lib.candidate_paths()] == ["package", "source tree"]


def test_the_loaded_library_is_the_first_candidate_that_loads():
    first = next(path for _, path in _lib.candidate_paths() if path.exists())
    assert _lib.library_path == first


def run_import(env_value: str):
    env = dict(os.environ, SMALLNET_LIBRARY=env_value, PYTHONPATH=str(PYTHON_DIR))
    return subprocess.run(
        [sys.executable, "-c", "import smallnet, smallnet._lib as l; print(l.library_path)"],
        env=env, capture_output=True, text=True, cwd=str(PYTHON_DIR),
    )


def test_bad_override_falls_back_with_a_warning(tmp_path):
    others = [path for origin, path in _lib.candidate_paths() if origin != "SMALLNET_LIBRARY" and path.exists()]
    if not others:
        pytest.skip("no library besides SMALLNET_LIBRARY to fall back to")
    result = run_import(str(tmp_path / "missing.so"))
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" in result.stderr and "missing.so" in result.stderr
    assert Path(result.stdout.strip()) == others[0]


def test_override_is_used():
    result = run_import(str(_lib.library_path))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == _lib.library_path


def test_abi_mismatch_is_an_import_error(tmp_path):
    import shutil

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = tmp_path / "fake.c"
    source.write_text('#include <stdint.h>\nuint32_t sn_abi_version(void) { return 2; }\n'
                      'const char *sn_version_string(void) { return "9.9.9"; }\n')
    library = tmp_path / "libsmallnet.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    result = run_import(str(library))
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "ABI version 2" in result.stderr


def run_with_isa(isa: str, code: str):
    env = dict(os.environ, SMALLNET_LIBRARY=str(_lib.library_path), PYTHONPATH=str(PYTHON_DIR), SMALLNET_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(PYTHON_DIR))


def test_info_names_the_kernel_variant():
    import smallnet

    info = smallnet.info()
    assert info["isa"] in ("avx512", "avx2", "baseline")
    assert info["version"] == smallnet.version() and info["abi_version"] == _lib.ABI_VERSION
    assert info["threads"] == smallnet.get_num_threads() and info["library"] == str(_lib.library_path)
    # Every CPU that runs the library runs the baseline variant; SMALLNET_ISA forces it.
    result = run_with_isa("baseline", "import smallnet; print(smallnet.info()['isa'])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "baseline"


def test_a_variant_that_cannot_run_is_an_import_error():
    result = run_with_isa("sse9", "import smallnet")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and "cannot run here: SMALLNET_ISA=sse9 is not a kernel variant" in last
