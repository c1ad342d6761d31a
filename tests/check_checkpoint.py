#!/usr/bin/env python3
"""Cross-checks elrscope's safetensors files against the reference `safetensors` package.

1. A checkpoint written by `elrscope train`: loaded with safetensors.numpy.load_file, it must hold
   exactly the tensors elrscope's own reader sees (tests/dump_checkpoint.cpp prints them): the same
   names, dtypes, shapes and bit-identical values, and the same metadata.
2. The other direction: a file written by safetensors.numpy.save_file (several dtypes, -0.0,
   subnormals, inf, nan, an empty tensor) must read back identically through elrscope's reader.

usage: check_checkpoint.py DUMP_CHECKPOINT_BINARY CHECKPOINT.safetensors
Exit 0 when everything matches, 1 on a mismatch, 77 (skipped) when numpy or safetensors is missing.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
except ImportError as e:  # the check needs both packages; without them it is skipped, not failed
    print(f"check_checkpoint: skipped: {e}")
    sys.exit(77)

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
problems = []


def dump(binary, path):
    out = subprocess.run([binary, path], capture_output=True, text=True)
    if out.returncode != 0:
        problems.append(f"{path}: dump_checkpoint failed ({out.returncode}): {out.stderr.strip()}")
        return None
    # Numbers stay text until the dtype is known ("-0" must not become the integer 0).
    return json.loads(out.stdout, parse_int=str, parse_float=str)


def as_array(values, dtype):
    if np.issubdtype(dtype, np.floating):
        return np.array([float(v) for v in values], dtype=np.float64).astype(dtype)
    return np.array([int(v) for v in values], dtype=dtype)


def bits(a):
    # Compare floats by their bit patterns: -0.0 differs from 0.0 and nan equals nan.
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).tobytes() if a.size else b""


def compare(path, ours, reference, metadata):
    """ours: the dump of elrscope's reader; reference: name -> array from the safetensors package."""
    names = [t["name"] for t in ours["tensors"]]
    if sorted(names) != sorted(reference):
        problems.append(f"{path}: tensor names differ: elrscope {sorted(names)}, safetensors {sorted(reference)}")
    for t in ours["tensors"]:
        name = t["name"]
        if name not in reference:
            continue
        ref = reference[name]
        where = f"{path}: tensor '{name}'"
        if t["dtype"] not in DTYPES:
            problems.append(f"{where}: dtype {t['dtype']} not expected in this check")
            continue
        if np.dtype(DTYPES[t["dtype"]]) != ref.dtype:
            problems.append(f"{where}: dtype {t['dtype']} (elrscope) vs {ref.dtype} (safetensors)")
            continue
        if [int(d) for d in t["shape"]] != list(ref.shape):
            problems.append(f"{where}: shape {t['shape']} (elrscope) vs {list(ref.shape)} (safetensors)")
            continue
        values = as_array(t["values"], ref.dtype).reshape(ref.shape)
        if bits(values) != bits(ref):
            flat_a, flat_b = values.reshape(-1), ref.reshape(-1)
            diff = [i for i in range(flat_a.size) if bits(flat_a[i:i + 1]) != bits(flat_b[i:i + 1])]
            problems.append(f"{where}: {len(diff)} of {flat_a.size} values differ, first at {diff[0]}: "
                            f"{flat_a[diff[0]]!r} (elrscope) vs {flat_b[diff[0]]!r} (safetensors)")
    if ours["metadata"] != (metadata or {}):
        problems.append(f"{path}: metadata differs: elrscope {ours['metadata']}, safetensors {metadata}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, checkpoint = sys.argv[1], sys.argv[2]

    # 1. elrscope wrote it; both readers must agree on every bit.
    reference = load_file(checkpoint)
    with safe_open(checkpoint, framework="np") as f:
        metadata = f.metadata()
    ours = dump(binary, checkpoint)
    if ours is not None:
        compare(checkpoint, ours, reference, metadata)
        if not any(name.startswith("optimizer.momentum.") for name in reference):
            problems.append(f"{checkpoint}: no momentum buffers (the run used --momentum 0.9)")
        for key in ("format", "next_step", "data_epoch", "data_index", "config"):
            if key not in (metadata or {}):
                problems.append(f"{checkpoint}: metadata '{key}' missing")
        if len(reference) < 4:
            problems.append(f"{checkpoint}: only {len(reference)} tensors")

    # 2. safetensors wrote it; elrscope's reader must return the same tensors.
    rng = np.random.default_rng(7)
    special = np.array([0.0, -0.0, 1e-45, -1.17549435e-38, 3.4028235e38, np.inf, -np.inf, np.nan, 0.1, -2.5],
                       dtype=np.float32)
    written = {
        "weight": rng.standard_normal((3, 4, 2)).astype(np.float32),
        "special": special,
        "double": np.array([np.pi, -1e-310, 1e300, -0.0], dtype=np.float64),
        "count": np.array([[-(2 ** 62), 0, 2 ** 62 + 5]], dtype=np.int64),
        "pixels": np.arange(250, 256, dtype=np.uint8),
        "empty": np.zeros((0, 5), dtype=np.float32),
        "scalar": np.array(1.5, dtype=np.float32),
    }
    written_metadata = {"format": "from python", "note": "ümlaut and \"quotes\""}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "from_python.safetensors")
        save_file(written, path, metadata=written_metadata)
        ours = dump(binary, path)
        if ours is not None:
            compare(path, ours, written, written_metadata)

    for p in problems:
        print("MISMATCH:", p)
    if problems:
        return 1
    print(f"check_checkpoint: {len(reference)} checkpoint tensors and {len(written)} python-written tensors "
          f"identical in both readers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
