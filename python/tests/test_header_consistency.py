"""include/smallnet.h, the ctypes declarations of smallnet._lib and the library's exports agree."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess

import pytest

from smallnet import _lib

from conftest import HEADER

C_SCALARS = {
    "sn_status": ctypes.c_int32,
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "uint8_t": ctypes.c_uint8,
    "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
}
HANDLES = {"sn_model", "sn_optimizer", "sn_dataset"}


def header_text() -> str:
    text = HEADER.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return re.sub(r"\s+", " ", text)


def prototypes() -> dict[str, tuple[str, list[str]]]:
    """name → (return type, [parameter types]) of every sn_ function declared in the header."""
    found = {}
    for match in re.finditer(r"(?:^|(?<=[;{}]))\s*([A-Za-z_][\w\s\*]*?)\b(sn_\w+)\s*\(([^()]*)\)\s*;", header_text()):
        ret, name, params = match.group(1).strip(), match.group(2), match.group(3).strip()
        if ret.startswith("typedef"):
            continue
        types = [] if params in ("", "void") else [strip_name(p) for p in params.split(",")]
        found[name] = (ret, types)
    return found


def strip_name(param: str) -> str:
    """`const float *src` → `const float *`."""
    param = param.strip()
    match = re.match(r"^(.*?[\s\*])(\w+)$", param)
    return match.group(1).strip() if match else param


def ctype_of(c_type: str):
    """The ctypes type a C type must be declared as."""
    c_type = re.sub(r"\s*\*", " *", c_type).strip()
    const = c_type.startswith("const ")
    base = c_type.replace("const ", "").replace("*", "").strip()
    stars = c_type.count("*")
    if c_type == "void":
        return None
    if base == "sn_progress_fn" and stars == 0:
        return _lib.sn_progress_fn
    if base == "char" and stars == 1:
        return ctypes.c_char_p if const else ctypes.POINTER(ctypes.c_char)
    if base == "char" and stars == 2 and const:  # const char *const *: a list of C strings
        return ctypes.POINTER(ctypes.c_char_p)
    if base == "void" and stars == 1:
        return ctypes.c_void_p
    if base in HANDLES:
        return {1: ctypes.c_void_p, 2: ctypes.POINTER(ctypes.c_void_p)}[stars]
    if base in _lib.STRUCTS:
        target = _lib.STRUCTS[base]
    else:
        target = C_SCALARS[base]
    return {0: target, 1: ctypes.POINTER(target) if stars else target}[stars]


def test_header_declares_what_python_declares():
    header = prototypes()
    assert len(header) >= 50
    assert set(header) == set(_lib.FUNCTIONS), (
        f"only in the header: {sorted(set(header) - set(_lib.FUNCTIONS))}; "
        f"only in _lib.FUNCTIONS: {sorted(set(_lib.FUNCTIONS) - set(header))}"
    )
    # The same order as the header, so the table reads alongside it.
    assert list(header) == list(_lib.FUNCTIONS)


@pytest.mark.parametrize("name", sorted(prototypes()))
def test_prototype_types(name):
    ret, params = prototypes()[name]
    restype, argtypes = _lib.FUNCTIONS[name]
    assert restype is ctype_of(ret), f"{name} returns {ret}"
    assert len(argtypes) == len(params), f"{name}({', '.join(params)})"
    for index, (declared, c_type) in enumerate(zip(argtypes, params)):
        expected = ctype_of(c_type)
        assert declared is expected, f"{name} parameter {index}: {c_type} declared as {declared}"
    # And the declarations were applied to the loaded library.
    function = getattr(_lib.lib, name)
    assert function.restype is restype
    assert list(function.argtypes) == list(argtypes)


def test_every_prototype_has_its_c_comment():
    source = (_lib.__file__ and open(_lib.__file__, encoding="utf-8").read())
    comments = re.sub(r"\s+", " ", " ".join(re.findall(r"^\s*# (.*)$", source, flags=re.M)))
    for name in prototypes():
        assert re.search(rf"\b{name}\(", comments), f"no prototype comment for {name}"


def array_length(text: str | None) -> int | None:
    """An array field's length: a number, or a macro such as SN_MAX_CHANNELS (its value in _lib)."""
    if text is None:
        return None
    return int(text) if text.isdigit() else getattr(_lib, text)


def structs() -> dict[str, list[tuple[str, str, int | None]]]:
    """struct name → [(field, C type, array length or None)] from the header's typedefs."""
    found = {}
    for match in re.finditer(r"typedef struct (sn_\w+) \{(.*?)\} \1;", header_text()):
        fields = []
        for declaration in match.group(2).split(";"):
            declaration = declaration.strip()
            if not declaration:
                continue
            head, *rest = declaration.split(",")
            m = re.match(r"^(.+?)\s*(\**)\s*(\w+)\s*(?:\[(\w+)\])?$", head.strip())
            base = m.group(1).strip()
            fields.append((m.group(3), f"{base} {m.group(2)}".strip(), array_length(m.group(4))))
            for extra in rest:
                e = re.match(r"^(\**)\s*(\w+)\s*(?:\[(\d+)\])?$", extra.strip())
                fields.append((e.group(2), f"{base} {e.group(1)}".strip(), int(e.group(3)) if e.group(3) else None))
        found[match.group(1)] = fields
    return found


def test_structs_mirror_the_header():
    header = structs()
    assert set(header) == set(_lib.STRUCTS)
    for name, fields in header.items():
        declared = _lib.STRUCTS[name]._fields_
        assert [f[0] for f in declared] == [f[0] for f in fields], name
        for (field, ctype), (_, c_type, length) in zip(declared, fields):
            base = c_type.replace("const ", "").replace("*", "").strip()
            if base in HANDLES:
                expected = ctypes.c_void_p
            elif base == "char" and length:
                expected = ctypes.c_char * length
            else:
                expected = ctype_of(c_type)
                if length:
                    expected = expected * length
            if length:
                assert issubclass(ctype, ctypes.Array) and ctype._length_ == length, f"{name}.{field}"
                assert ctype._type_ is expected._type_, f"{name}.{field}"
            else:
                assert ctype is expected, f"{name}.{field}: {c_type}"


def test_struct_layout_matches_the_c_compiler(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>", f'#include "{HEADER}"', "int main(void) {"]
    for name, cls in _lib.STRUCTS.items():
        lines.append(f'printf("{name} size %zu\\n", sizeof({name}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{name}.{field} %zu\\n", offsetof({name}, {field}));')
    lines += ["return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines))
    binary = tmp_path / "layout"
    subprocess.run([compiler, "-std=c99", "-o", str(binary), str(source)], check=True)
    output = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        key, value = line.rsplit(" ", 1)
        if key.endswith(" size"):
            assert ctypes.sizeof(_lib.STRUCTS[key.split()[0]]) == int(value), key
        else:
            struct, field = key.split(".")
            assert getattr(_lib.STRUCTS[struct], field).offset == int(value), key


def test_constants_match_the_header():
    text = HEADER.read_text(encoding="utf-8")
    defines = dict(re.findall(r"^#define (SN_\w+) (-?\d+)\s*(?:/\*.*)?$", text, flags=re.M))
    assert len(defines) > 25
    for name, value in defines.items():
        python_name = name[3:] if name.startswith("SN_VERSION_") or name == "SN_ABI_VERSION" else name
        assert getattr(_lib, python_name) == int(value), name
    floats = {}
    for name, numerator, denominator in re.findall(r"^#define (SN_\w+) \(?(\d+\.\d+)f(?: / (\d+\.\d+)f\))?",
                                                   text, flags=re.M):
        floats[name] = float(numerator) / (float(denominator) if denominator else 1.0)
    assert {"SN_FASHION_MNIST_MEAN", "SN_FASHION_MNIST_STD", "SN_FASHION_MNIST_PIXEL_SCALE"} <= set(floats)
    for name, value in floats.items():
        assert getattr(_lib, name) == pytest.approx(value, rel=1e-7), name


def test_library_exports_exactly_the_header():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm is not installed")
    output = subprocess.run([nm, "-D", "--defined-only", str(_lib.library_path)], check=True, capture_output=True,
                            text=True).stdout
    exported = {line.split()[-1].split("@")[0] for line in output.splitlines() if line.strip()}
    sn_symbols = {name for name in exported if name.startswith("sn_")}
    header = set(prototypes())
    assert header - sn_symbols == set(), "declared but not exported"
    assert sn_symbols - header == set(), "exported but not declared"
    functions = {line.split()[-1].split("@")[0] for line in output.splitlines() if " T " in line}
    assert header <= functions


def test_versions():
    assert _lib.lib.sn_abi_version() == _lib.ABI_VERSION == 1
    version = _lib.lib.sn_version_string().decode()
    assert version == f"{_lib.VERSION_MAJOR}.{_lib.VERSION_MINOR}.{_lib.VERSION_PATCH}"
