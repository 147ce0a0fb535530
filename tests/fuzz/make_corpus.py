#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Small valid inputs (real checkpoints saved by the library, IDX files raw and gzip) and a few
invalid ones (truncated, wrong magic, bad lengths). The output is deterministic: the same
library writes the same files.

Usage (from the repository root, after `make lib`):
    PYTHONPATH=python SMALLNET_LIBRARY=build/lib/libsmallnet.so python3 tests/fuzz/make_corpus.py
"""

from __future__ import annotations

import gzip
import json
import pathlib
import shutil
import struct

import numpy as np

import smallnet as sn

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target: str, name: str, data: bytes) -> None:
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def split(checkpoint: bytes) -> tuple[bytes, bytes]:
    """The JSON header and the data section of a safetensors file."""
    (n,) = struct.unpack("<Q", checkpoint[:8])
    return checkpoint[8 : 8 + n], checkpoint[8 + n :]


def gz(data: bytes) -> bytes:
    # mtime=0: the same bytes on every run.
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx(dims: list[int], values: bytes | None = None) -> bytes:
    count = int(np.prod(dims)) if dims else 0
    head = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + (values if values is not None else bytes(i % 251 for i in range(count)))


def models() -> dict[str, bytes]:
    """Checkpoints of tiny models covering every layer kind, metadata entry and dtype."""
    out = {}
    fcn = (
        sn.Model((1, 4, 4))
        .add_flatten()
        .add_linear(5, init="pytorch", seed=1)
        .add_batchnorm1d()
        .add_relu()
        .add_dropout(0.25)
        .add_linear(3, bias=False, seed=2)
    )
    fcn.preprocessing = sn.Preprocessing(1 / 255, 0.2860, 0.3530)
    fcn.class_names = ["zero", "één", "двa"]
    out["fcn"] = fcn.to_bytes(training_config={"epochs": 1, "lr": 0.01})
    cnn = (
        sn.Model((2, 6, 6))
        .add_conv2d(3, 3, padding=1, bias=False, seed=3)
        .add_batchnorm2d()
        .add_relu()
        .add_maxpool2d(2)
        .add_conv2d(2, 2, stride=1, seed=4)
        .add_avgpool2d(2, 1)
        .add_globalavgpool2d()
        .add_linear(4, seed=5)
    )
    cnn.preprocessing = sn.Preprocessing(1 / 255, (0.5, 0.25), (0.2, 0.3))
    out["cnn"] = cnn.to_bytes()
    out["plain"] = sn.Model((1, 1, 2)).add_flatten().add_linear(2, seed=6).to_bytes()
    # "Same" convolutions with wide kernels: the im2col path (2 channels) and the direct path
    # (1 channel) a few mutations away from images smaller than their padding.
    out["same_conv"] = sn.Model((2, 8, 8)).add_conv2d(1, 5, padding=2, bias=False, seed=8).add_flatten().to_bytes()
    out["same_conv_direct"] = sn.Model((1, 8, 8)).add_conv2d(2, 7, padding=3, seed=9).add_flatten().to_bytes()
    out["builder_cnn"] = sn.cnn([2, 3], input_shape=(1, 8, 8), classes=3, seed=7).to_bytes()
    return out


def checkpoint_corpus(checkpoints: dict[str, bytes]) -> None:
    for name, data in checkpoints.items():
        write("checkpoint", f"{name}.safetensors", data)
    data = checkpoints["fcn"]
    header, body = split(data)
    write("checkpoint", "empty", b"")
    write("checkpoint", "short", b"\x02\x00\x00\x00")
    write("checkpoint", "empty_header", struct.pack("<Q", 2) + b"{}")
    write("checkpoint", "length_too_big", struct.pack("<Q", 1 << 40) + header)
    write("checkpoint", "truncated.safetensors", data[: len(data) - 5])
    write("checkpoint", "gzip.safetensors.gz", gz(data))
    # The data section of a valid header filled with NaN: refused as non-finite.
    write("checkpoint", "nan_values.safetensors", data[: 8 + len(header)] + b"\x00\x00\xc0\x7f" * (len(body) // 4))
    # Another tensor name: unexpected for the architecture.
    write("checkpoint", "renamed.safetensors", data.replace(b'"1.weight"', b'"9.weight"'))


def json_corpus(checkpoints: dict[str, bytes]) -> None:
    for name, data in checkpoints.items():
        header, body = split(data)
        # The whole header, then a NUL and the data section (fuzz_json.c's input layout).
        write("json", f"{name}_header.json", header + b"\x00" + body)
        meta = json.loads(header)["__metadata__"]
        write("json", f"{name}_architecture.json", meta["smallnet.architecture"].encode())
        for key in ("smallnet.preprocessing", "smallnet.class_names"):
            if key in meta:
                write("json", f"{name}_{key.split('.')[1]}.json", meta[key].encode())
    snippets = {
        "literals": b'[true,false,null,0,-0,1.5e-3,-2E+10,"a"]',
        "escapes": b'"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"',
        "object": b'{"a":{"b":[{"c":{}}]},"d":[]}',
        "deep": b"[" * 70 + b"]" * 70,
        "bad_surrogate": b'"\\ud800\\u0041"',
        "lone_low_surrogate": b'"\\udc00"',
        "bad_number": b"[1e400, 01, 1.2.3, --1]",
        "trailing": b'{"a":1} x',
        "invalid_utf8": b'"\xff\xfe\xc3"',
        "preprocessing": b'{"pixel_scale":0.00392156862745098,"mean":[0.286],"std":[0.353]}',
        "class_names": b'["T-shirt/top","Trouser","Pullover"]',
    }
    for name, text in snippets.items():
        write("json", f"{name}.json", text)


def architecture_corpus(checkpoints: dict[str, bytes]) -> None:
    for name, data in checkpoints.items():
        header = json.loads(split(data)[0])
        arch = header.pop("__metadata__")["smallnet.architecture"]
        tensors = json.dumps(header, separators=(",", ":"))[1:-1]
        # Architecture JSON, NUL, the header's tensor members (fuzz_architecture.c's layout).
        write("architecture", f"{name}.bin", arch.encode() + b"\x00" + tensors.encode())
    write("architecture", "no_layers.bin", b'{"input":[1,2,2],"layers":[]}\x00')
    write("architecture", "relu_only.bin", b'{"input":[3,2,2],"layers":[{"kind":"relu"},{"kind":"flatten"}]}')
    write("architecture", "pools.bin",
          b'{"input":[1,5,5],"layers":[{"kind":"maxpool2d","kernel":3,"stride":1},'
          b'{"kind":"avgpool2d","kernel":2,"stride":2},{"kind":"globalavgpool2d"}]}')
    write("architecture", "unknown_kind.bin", b'{"input":[1],"layers":[{"kind":"lstm"}]}')


def idx_corpus() -> None:
    images = idx([3, 2, 3])
    labels = idx([3], bytes([0, 1, 2]))
    # fuzz_idx.c's layout: a control byte (even: images, odd: labels), classes - 1, the file.
    raw = {
        "images": b"\x00\x09" + images,
        "labels": b"\x01\x09" + labels,
        "images_28x28": b"\x00\x09" + idx([2, 28, 28]),
        "labels_too_many_classes": b"\x01\x01" + labels,
        "images_rank4": b"\x00\x09" + idx([1, 1, 2, 2]),
        "images_zero_dim": b"\x00\x09" + idx([0, 2, 2]),
        "images_truncated": b"\x00\x09" + images[:-2],
        "images_trailing": b"\x00\x09" + images + b"\x00",
        "bad_magic": b"\x00\x09" + b"\x01\x00" + images[2:],
        "int_type": b"\x00\x09" + b"\x00\x00\x0c\x03" + images[4:],
        "huge_dims": b"\x00\x09" + idx([0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF], b""),
        "header_only": b"\x00\x09\x00\x00\x08",
    }
    for name, data in raw.items():
        write("idx", name, data)
    compressed = {
        "images.gz": b"\x00\x09" + gz(images),
        "labels.gz": b"\x01\x09" + gz(labels),
        "two_members.gz": b"\x00\x09" + gz(images[:7]) + gz(images[7:]),
        "zero_padded.gz": b"\x00\x09" + gz(images) + b"\x00" * 16,
        "trailing_junk.gz": b"\x00\x09" + gz(images) + b"junk",
        "truncated.gz": b"\x00\x09" + gz(images)[:-6],
        "corrupt_crc.gz": b"\x00\x09" + gz(images)[:-8] + b"\xde\xad\xbe\xef" + gz(images)[-4:],
        "raw_images": b"\x00\x09" + images,
        "gzip_of_gzip.gz": b"\x00\x09" + gz(gz(images)),
    }
    for name, data in compressed.items():
        write("idx_gz", name, data)


def regressions() -> None:
    """Inputs that crashed the library once (tests/fuzz/regressions/<target>/): run.sh runs them
    before fuzzing, so a fixed bug stays fixed."""
    folder = ROOT.parent / "regressions"
    shutil.rmtree(folder, ignore_errors=True)

    def keep(target: str, name: str, data: bytes) -> None:
        (folder / target).mkdir(parents=True, exist_ok=True)
        (folder / target / name).write_bytes(data)

    # Stride-1 "same" convolutions (padding k // 2) on images smaller than the padding: forward
    # traps on an empty range in sameShapeTap (im2col, 2 channels: height 1 < padding 2) and in
    # ShiftedPlanes.fill (direct convolution, 1 channel: width 1 < padding 2).
    tall = sn.Model((2, 1, 8)).add_conv2d(1, 5, padding=2, bias=False, seed=1).add_flatten().to_bytes()
    narrow = sn.Model((1, 8, 1)).add_conv2d(1, 5, padding=2, bias=False, seed=1).add_flatten().to_bytes()
    keep("checkpoint", "same_conv_height_below_padding.safetensors", tall)
    keep("checkpoint", "same_conv_direct_width_below_padding.safetensors", narrow)
    for name, data in (("same_conv_height_below_padding.bin", tall), ("same_conv_direct_width_below_padding.bin", narrow)):
        header = json.loads(split(data)[0])
        arch = header.pop("__metadata__")["smallnet.architecture"]
        keep("architecture", name, arch.encode() + b"\x00" + json.dumps(header, separators=(",", ":"))[1:-1].encode())
    # An input of four dimensions loads, but sn_model_input_shape reports only the last three:
    # a caller that passes n·C·H·W floats, as the header says, has its buffer over-read.
    rank4 = json.dumps({"input": [2, 1, 2, 2], "layers": [{"kind": "flatten"}]}, separators=(",", ":"))
    header = json.dumps({"__metadata__": {"smallnet.architecture": rank4}}, separators=(",", ":")).encode()
    keep("checkpoint", "input_rank4.safetensors", struct.pack("<Q", len(header)) + header)
    keep("architecture", "input_rank4.bin", rank4.encode())
    # A conv2d kernel of 2^32 (bias on): the size check before building the layers overflows
    # adding the bias to a saturated in·kernel² (stateCount in LayerSpec.swift), at load.
    conv = json.dumps({"input": [1, 8, 8], "layers": [{"kind": "conv2d", "in": 1, "out": 2, "kernel": 2**32,
                                                        "stride": 1, "padding": 0, "bias": True}]},
                      separators=(",", ":"))
    header = json.dumps({"__metadata__": {"smallnet.architecture": conv}}, separators=(",", ":")).encode()
    keep("checkpoint", "conv_kernel_2pow32.safetensors", struct.pack("<Q", len(header)) + header)
    keep("architecture", "conv_kernel_2pow32.bin", conv.encode())
    # A BatchNorm counter (I64) of INT64_MAX loads as the float 2^63; saving it again traps
    # converting that float back to Int64 (Checkpoint.serialize).
    data = bytearray(models()["fcn"])
    header, _ = split(bytes(data))
    start, end = json.loads(header)["2.num_batches_tracked"]["data_offsets"]
    body = 8 + len(header)
    data[body + start : body + end] = struct.pack("<q", 2**63 - 1)
    keep("checkpoint", "counter_int64_max.safetensors", bytes(data))


def main() -> None:
    for target in ("checkpoint", "json", "architecture", "idx", "idx_gz"):
        shutil.rmtree(ROOT / target, ignore_errors=True)
    regressions()
    checkpoints = models()
    checkpoint_corpus(checkpoints)
    json_corpus(checkpoints)
    architecture_corpus(checkpoints)
    idx_corpus()
    for folder in sorted(ROOT.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
