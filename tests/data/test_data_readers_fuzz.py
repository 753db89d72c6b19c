"""Fuzzing the dataset readers: malformed files raise a ValueError naming the file, nothing else.

Each format starts from a small valid file (COCO and CrowdPose json, MPII json and the
official .mat's ``RELEASE`` struct, LSP ``joints.mat``, the VideoPose3D 3D and 2D npz,
MMPose's ``cameras.pkl`` and Human3.6M annotation npz). Hypothesis then mutates it, either
in its structure (a field deleted or replaced by a wrong type, NaN, infinity, a huge number,
a ragged or wrongly shaped array, a truncated or extended list) or in its bytes (truncated,
flipped, inserted, deleted, a huge length written over 4 or 8 bytes), writes it and calls the
reader. Every outcome must be one of:

- a `ValueError` (or `FileNotFoundError`) whose message names the file and, for a structural
  mutation, one of the format's fields;
- a result whose numbers are sane (labelled keypoints finite and within 1e6 px, 3D finite),
  for the mutations that leave a valid file (an id changed, a visible joint made occluded);

never another exception type, a hang (20 s alarm per case) or unbounded memory (64 MiB of
traced allocations per case). ``POSEKIT_FUZZ_EXAMPLES`` (default 40) sets the examples per
format and mutation kind, ``POSEKIT_FUZZ_RANDOM=1`` draws new ones instead of the fixed
sequence; each test prints how many cases it ran (``pytest -s``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import re
import signal
import struct
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from posekit.data.datasets.coco import (
    COCO_KEYPOINT_NAMES,
    CROWDPOSE_KEYPOINT_NAMES,
    read_coco_keypoints,
)
from posekit.data.datasets.h36m import (
    load_h36m_cameras,
    read_h36m_2d,
    read_h36m_3d,
    read_h36m_frames,
)
from posekit.data.datasets.lsp import read_lsp_joints
from posekit.data.datasets.mpii import read_mpii_json, read_mpii_mat

EXAMPLES = int(os.environ.get("POSEKIT_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not os.environ.get("POSEKIT_FUZZ_RANDOM"),  # set it to explore new cases
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
MAX_TRACED_BYTES = 64 * 2**20
ALARM_S = 20

# ---------------------------------------------------------------- valid seeds


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _coco(names: tuple[str, ...]) -> dict:
    rng, K = _rng(), len(names)

    def kps(labelled: int) -> list:
        out: list = []
        for j in range(K):
            v = 0 if j >= labelled else int(rng.integers(1, 3))
            out += [*(rng.uniform(0, 90, 2).round(1).tolist() if v else [0, 0]), v]
        return out

    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80,
                    "crowdIndex": 0.3}],
        "annotations": [
            {"id": 10, "image_id": 1, "keypoints": kps(K), "bbox": [1, 2, 50, 60],
             "num_keypoints": K, "iscrowd": 0, "area": 900.5, "category_id": 1},
            {"id": 11, "image_id": 2, "keypoints": kps(4), "bbox": [5, 5, 20, 30],
             "num_keypoints": 4, "iscrowd": 0, "area": 300, "category_id": 1},
            {"id": 12, "image_id": 2, "keypoints": [0] * (3 * K), "bbox": [0, 0, 9, 9],
             "num_keypoints": 0, "iscrowd": 1, "area": 81, "category_id": 1},
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": list(names),
                        "skeleton": [[1, 2]]}],
    }  # fmt: skip


def _mpii_json() -> list:
    rng = _rng()
    return [
        {"image": name, "joints": rng.uniform(1, 90, (16, 2)).round(2).tolist(),
         "joints_vis": [1] * 14 + [0, 1], "center": [40.0, 45.5], "scale": 0.35}
        for name in ("a.jpg", "a.jpg", "b.jpg")
    ]  # fmt: skip


def _mpii_release() -> dict:
    rng = _rng()

    def rect(n_points: int) -> dict:
        pts = [{"id": float(j), "x": float(rng.uniform(2, 90)), "y": float(rng.uniform(2, 90)),
                "is_visible": float(j % 3 > 0)} for j in range(n_points)]  # fmt: skip
        return {"x1": 10.0, "y1": 11.0, "x2": 20.0, "y2": 25.0, "scale": 0.3,
                "objpos": {"x": 40.0, "y": 42.0}, "annopoints": {"point": pts}}  # fmt: skip

    return {
        "annolist": [
            {"image": {"name": "a.jpg"}, "annorect": [rect(16), rect(9)]},
            {"image": {"name": "b.jpg"}, "annorect": [rect(16)]},
        ],
        "img_train": [1.0, 1.0],
        "single_person": [[1.0, 2.0], [1.0]],
        "act": [
            {"cat_name": "sports", "act_name": "running", "act_id": 5.0},
            {"cat_name": "", "act_name": "", "act_id": -1.0},
        ],
    }


def _lsp() -> dict:
    rng = _rng()
    joints = np.concatenate([rng.uniform(1, 90, (3, 14, 2)), np.ones((3, 14, 1))], -1)
    return {"joints": joints.transpose(2, 1, 0).copy()}  # 3 x 14 x N


def _h36m_3d() -> dict:
    rng = _rng()
    return {"positions_3d": {"S1": {"Walking 1": rng.normal(0, 0.5, (4, 32, 3)),
                                    "Eating": rng.normal(0, 0.5, (3, 17, 3))}}}  # fmt: skip


def _h36m_2d() -> dict:
    rng = _rng()
    cams = [rng.uniform(0, 1000, (4, 17, 2)).astype(np.float32) for _ in range(4)]
    meta = {"num_joints": 17, "keypoints_symmetry": [[4, 5, 6], [1, 2, 3]]}
    return {"positions_2d": {"S1": {"Walking 1": cams}}, "metadata": meta}


def _cameras() -> dict:
    rng = _rng()
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    cam = {"R": q, "T": rng.normal(size=(3, 1)), "c": np.array([[512.0], [515.0]]),
           "f": np.array([[1145.0], [1144.0]]), "k": rng.normal(0, 0.1, (3, 1)),
           "p": rng.normal(0, 0.01, (2, 1)), "w": 1000, "h": 1002, "name": "54138969"}  # fmt: skip
    return {("S1", "54138969"): cam, ("S5", "55011271"): copy.deepcopy(cam)}


def _frames() -> dict:
    rng = _rng()
    part = np.concatenate([rng.uniform(0, 1000, (3, 17, 2)), np.ones((3, 17, 1))], -1)
    S = np.concatenate([rng.normal(0, 1, (3, 17, 3)), np.ones((3, 17, 1))], -1)
    names = np.array([f"S1/S1_Walking.54138969/S1_Walking.54138969_{i:06d}.jpg" for i in range(3)])
    return {"imgname": names, "center": rng.uniform(0, 1000, (3, 2)),
            "scale": rng.uniform(1, 3, 3), "part": part, "S": S}  # fmt: skip


# ---------------------------------------------------------------- writers and checks


def _write_json(tree: Any, path: Path) -> None:
    path.write_text(json.dumps(tree, allow_nan=True))


def _write_mat(var: str) -> Callable[[Any, Path], None]:
    def write(tree: Any, path: Path) -> None:
        try:
            scipy.io.savemat(path, tree if var == "" else {var: tree})
        except Exception:  # a mutation MATLAB files cannot hold (None, a non-str key, ...)
            assume(False)

    return write


def _write_npz(tree: Any, path: Path) -> None:
    if not isinstance(tree, dict) or not all(isinstance(k, str) and k for k in tree):
        assume(False)
    try:
        with open(path, "wb") as fh:
            np.savez(fh, **tree)
    except Exception:
        assume(False)


def _write_pickle(tree: Any, path: Path) -> None:
    path.write_bytes(pickle.dumps(tree))


def _finite_px(kp: np.ndarray, labelled: np.ndarray) -> None:
    assert kp.dtype == np.float32
    assert (np.abs(kp[labelled]) <= 1e6).all()


def _ok_records(out: Any) -> None:
    records = out[0] if isinstance(out, tuple) else out
    for r in records:
        P = r.keypoints2d.shape[0]
        assert r.visibility.shape == r.keypoints2d.shape[:2] and r.bbox.shape == (P, 4)
        labelled = np.isfinite(r.keypoints2d).all(-1)
        _finite_px(r.keypoints2d, labelled)
        assert not (r.visibility & ~labelled).any()  # a visible joint has coordinates


def _ok_lsp(out: Any) -> None:
    _finite_px(out.keypoints2d, np.isfinite(out.keypoints2d).all(-1))


def _ok_h36m(out: Any) -> None:
    data = out[0] if isinstance(out, tuple) else out
    for acts in data.values():
        for x in acts.values():
            for a in x if isinstance(x, list) else [x]:
                assert a.dtype == np.float32 and a.shape[1:2] == (17,) and np.isfinite(a).all()


def _ok_cameras(out: Any) -> None:
    for cam in out.values():
        assert np.isfinite(cam.R).all() and np.isfinite(cam.K).all() and min(cam.image_size) > 0


def _ok_frames(out: Any) -> None:
    assert np.isfinite(out.keypoints2d).all() and out.keypoints2d.dtype == np.float32
    assert out.joints3d_cam_m is None or np.isfinite(out.joints3d_cam_m).all()


class _Alarm(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Alarm(f"reader still running after {ALARM_S} s")


def _run(reader: Callable[[Path], Any], path: Path, fields: tuple[str, ...] | None) -> Any:
    """Call the reader; check the error if it raises (``fields``: one must be named)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(ALARM_S)
    tracemalloc.start()
    try:
        try:
            return reader(path)
        except (ValueError, FileNotFoundError) as err:
            msg = str(err)
            assert str(path) in msg, f"the message does not name the file: {msg}"
            if fields is not None:
                assert any(f in msg for f in fields), f"no field of {fields} named: {msg}"
            return None
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < MAX_TRACED_BYTES, f"{peak / 2**20:.0f} MiB traced"
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- mutations

_JUNK: list[Any] = [
    None, "x", "", "1", True, False, 0, -1, 2, 3, 17, 1.5, -2.5, math.nan, math.inf, -math.inf,
    1e308, -1e308, 1e30, 10**30, 2**63, -(2**63) - 1, [], {}, [1, [2, 3]], [[1, 2], [3]],
    [[[[[1]]]]], {"a": 1}, [None] * 3, ["a", "b"],
]  # fmt: skip


def _nodes(tree: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(tree, list | tuple):
        for i, v in enumerate(tree):
            yield from _nodes(v, (*path, i))


def _get(tree: Any, path: tuple) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def _array_edit(data: st.DataObject, a: np.ndarray) -> Any:
    kind = data.draw(st.sampled_from(["value", "dtype", "drop_dim", "add_dim", "shorten"]))
    if kind == "value" and a.size:
        out = a.astype(np.float64) if a.dtype.kind in "iuf" else a.copy()
        i = data.draw(st.integers(0, a.size - 1))
        v = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 3e38, 7]))
        if out.dtype.kind == "f":
            out.reshape(-1)[i] = v
            return out
        return out.astype(object)
    if kind == "dtype":
        to = data.draw(st.sampled_from(["U", "bool", "complex", "object", "int8"]))
        try:
            return a.astype(str if to == "U" else to)
        except (TypeError, ValueError):  # e.g. strings as complex numbers: no such file
            assume(False)
    if kind == "drop_dim" and a.ndim:
        return a[(slice(None),) * (a.ndim - 1) + (0,)]
    if kind == "add_dim":
        return a[..., None]
    return a[: max(len(a) - 1, 0)] if a.ndim else a.reshape(1)


def _mutate(data: st.DataObject, seed: Any, allow_root: bool) -> tuple[Any, tuple]:
    tree = copy.deepcopy(seed)
    paths = [p for p in _nodes(tree) if allow_root or p]
    path = data.draw(st.sampled_from(paths), label="path")
    node = _get(tree, path)
    ops = ["replace", "delete"]
    if isinstance(node, list) and node:
        ops += ["shorten", "extend"]
    if isinstance(node, np.ndarray):
        ops += ["array", "array"]
    op = data.draw(st.sampled_from(ops), label="op")
    if op == "array":
        new = _array_edit(data, node)
    elif op == "shorten":
        new = node[: data.draw(st.integers(0, len(node) - 1))]
    elif op == "extend":
        new = node + [copy.deepcopy(node[-1])] * data.draw(st.integers(1, 3))
    elif op == "replace" or not path:
        new = data.draw(st.sampled_from(_JUNK), label="value")
    else:  # delete
        parent = _get(tree, path[:-1])
        if isinstance(parent, tuple):
            assume(False)
        del parent[path[-1]]
        return tree, path
    if not path:
        return new, path
    parent = _get(tree, path[:-1])
    if isinstance(parent, tuple):  # a tuple key of the cameras dict: not mutated in place
        assume(False)
    parent[path[-1]] = new
    return tree, path


def _bytes(data: st.DataObject, raw: bytes) -> bytes:
    kinds = ["truncate", "flip", "insert", "delete", "size"]
    kind = data.draw(st.sampled_from(kinds), label="bytes")
    i = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="at")
    n = data.draw(st.integers(1, 16), label="n")
    if kind == "truncate":
        return raw[:i]
    if kind == "size":  # a huge little- or big-endian length or count over 4 or 8 bytes
        value = data.draw(st.sampled_from([2**31 - 1, 2**32 - 1, 2**26, 2**40, 2**63 - 1]))
        width, order = data.draw(st.sampled_from([(4, "little"), (8, "little"), (4, "big")]))
        field = (value % 2 ** (8 * width)).to_bytes(width, order)
        return raw[:i] + field + raw[i + width :]
    if kind == "flip":
        junk = data.draw(st.binary(min_size=n, max_size=n))
        return raw[:i] + junk + raw[i + n :]
    if kind == "insert":
        return raw[:i] + data.draw(st.binary(min_size=1, max_size=n)) + raw[i:]
    return raw[:i] + raw[i + n :]


# ---------------------------------------------------------------- the formats

FORMATS: dict[str, dict[str, Any]] = {
    "coco": dict(seed=lambda: _coco(COCO_KEYPOINT_NAMES), write=_write_json, suffix=".json",
                 read=read_coco_keypoints, ok=_ok_records, root=True,
                 fields=("top level", "images", "annotations", "categories")),
    "crowdpose": dict(seed=lambda: _coco(CROWDPOSE_KEYPOINT_NAMES), write=_write_json,
                      suffix=".json", read=read_coco_keypoints, ok=_ok_records, root=True,
                      fields=("top level", "images", "annotations", "categories")),
    "mpii_json": dict(seed=_mpii_json, write=_write_json, suffix=".json", read=read_mpii_json,
                      ok=_ok_records, root=True, fields=("top level", "entry ")),
    "mpii_mat": dict(seed=_mpii_release, write=_write_mat("RELEASE"), suffix=".mat",
                     read=read_mpii_mat, ok=_ok_records, root=True,
                     fields=("RELEASE", "variables")),
    "lsp": dict(seed=_lsp, write=_write_mat(""), suffix=".mat", read=read_lsp_joints,
                ok=_ok_lsp, root=False, fields=("joints", "variables")),
    "h36m_3d": dict(seed=_h36m_3d, write=_write_npz, suffix=".npz", read=read_h36m_3d,
                    ok=_ok_h36m, root=False, fields=("positions_3d", "variables")),
    "h36m_2d": dict(seed=_h36m_2d, write=_write_npz, suffix=".npz", read=read_h36m_2d,
                    ok=_ok_h36m, root=False, fields=("positions_2d", "metadata", "variables")),
    "h36m_cameras": dict(seed=_cameras, write=_write_pickle, suffix=".pkl",
                         read=load_h36m_cameras, ok=_ok_cameras, root=True,
                         fields=("[(", "keys", "expected a dict keyed")),
    "h36m_frames": dict(seed=_frames, write=_write_npz, suffix=".npz", read=read_h36m_frames,
                        ok=_ok_frames, root=False,
                        fields=("imgname", "center", "scale", "part", "S", "variables",
                                "cannot read")),  # object arrays: refused by np.load
}  # fmt: skip

CASES: dict[str, int] = {}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_valid_seed_reads(name: str, tmp_path: Path) -> None:
    fmt = FORMATS[name]
    path = tmp_path / f"seed{fmt['suffix']}"
    fmt["write"](fmt["seed"](), path)
    out = fmt["read"](path)
    fmt["ok"](out)
    records = out[0] if isinstance(out, tuple) else out
    assert len(records) > 0


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_structural_mutations(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    fmt = FORMATS[name]
    seed = fmt["seed"]()
    path = tmp_path_factory.mktemp(f"fuzz_{name}") / f"file{fmt['suffix']}"
    count = 0

    @FUZZ
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        nonlocal count
        tree, _ = _mutate(data, seed, fmt["root"])
        fmt["write"](tree, path)
        count += 1
        out = _run(fmt["read"], path, fmt["fields"])
        if out is not None:
            fmt["ok"](out)

    case()
    CASES[f"{name} structure"] = count
    print(f"\n{name}: {count} structural cases")
    assert count > 0


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_byte_mutations(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    fmt = FORMATS[name]
    folder = tmp_path_factory.mktemp(f"bytes_{name}")
    path = folder / f"file{fmt['suffix']}"
    fmt["write"](fmt["seed"](), path)
    raw = path.read_bytes()
    count = 0

    @FUZZ
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        nonlocal count
        path.write_bytes(_bytes(data, raw))
        count += 1
        out = _run(fmt["read"], path, None)
        if out is not None:
            fmt["ok"](out)

    case()
    CASES[f"{name} bytes"] = count
    print(f"\n{name}: {count} byte cases")
    assert count > 0


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_edge_files(name: str, tmp_path: Path) -> None:
    """Missing, empty, a folder, deep nesting, a 5000-digit number: errors naming the file."""
    fmt = FORMATS[name]
    cases = {
        "missing": None,
        "empty": b"",
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "digits": b'{"images": [], "annotations": [], "x": ' + b"9" * 5000 + b"}",
        "text": b"hello",
    }
    for label, content in cases.items():
        path = tmp_path / f"{label}{fmt['suffix']}"
        if content is not None:
            path.write_bytes(content)
        _run(fmt["read"], path, None)
    folder = tmp_path / f"folder{fmt['suffix']}"
    folder.mkdir()
    _run(fmt["read"], folder, None)


def test_a_pickle_that_is_not_an_npz_is_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Touch:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    for reader in (read_h36m_3d, read_h36m_2d):
        path = tmp_path / "data_3d_h36m.npz"
        path.write_bytes(pickle.dumps(Touch()))
        with pytest.raises(ValueError, match=re.escape(f"{path}: cannot read") + ".*not an npz"):
            reader(path)
        assert not marker.exists()


# ---------------------------------------------------------------- what the fuzzing found


def _mat_variable(name: bytes, mclass: int, dims: list[int], data: bytes) -> bytes:
    """One uncompressed MAT 5 variable (an miMATRIX element), little-endian."""

    def element(mdtype: int, payload: bytes) -> bytes:
        return struct.pack("<II", mdtype, len(payload)) + payload + b"\0" * (-len(payload) % 8)

    body = (
        element(6, struct.pack("<II", mclass, 0))  # array flags
        + element(5, struct.pack(f"<{len(dims)}i", *dims))
        + element(1, name)
        + data
    )
    return struct.pack("<II", 14, len(body)) + body


def _mat_file(*variables: bytes) -> bytes:
    header = b"MATLAB 5.0 MAT-file, written by hand".ljust(116) + b"\0" * 8 + b"\0\x01IM"
    return header + b"".join(variables)


def test_a_damaged_mat_type_code_is_refused(tmp_path: Path) -> None:
    """scipy 1.17 looks a numeric element's type code up in a table without checking it: a
    code with no entry (0, 8, 14 = miMATRIX, ...) or past the table (255) crashed the
    interpreter with a segmentation fault."""
    path = tmp_path / "joints.mat"
    scipy.io.savemat(path, _lsp())
    raw = path.read_bytes()
    tag = struct.pack("<II", 9, 3 * 14 * 3 * 8)  # miDOUBLE, the joints' 126 numbers
    assert raw.count(tag) == 1
    for code in (14, 255):
        path.write_bytes(raw.replace(tag, struct.pack("<II", code, 3 * 14 * 3 * 8)))
        with pytest.raises(ValueError, match=re.escape(f"{path}: cannot read LSP") + f".*{code}"):
            read_lsp_joints(path)


def test_a_char_array_without_dimensions_is_refused(tmp_path: Path) -> None:
    """A char array with no dimensions also crashed scipy 1.17's reader."""
    path = tmp_path / "mpii.mat"
    empty_utf8 = struct.pack("<II", 16, 0)
    path.write_bytes(_mat_file(_mat_variable(b"RELEASE", 4, [], empty_utf8)))
    with pytest.raises(ValueError, match=re.escape(f"{path}: cannot read MPII") + ".*dimensions"):
        read_mpii_mat(path)


def test_sizes_a_file_cannot_hold_allocate_nothing(tmp_path: Path) -> None:
    """Lengths in a damaged header made the readers allocate what the header says (a MAT 4
    matrix, a pickle's bytes, an npy header's shape) before finding the data missing; each
    case is refused in under 64 MiB of traced allocations (`_run`)."""
    mat4 = tmp_path / "joints.mat"  # MAT 4: type 0 (double), 2**28 x 1, then a name
    mat4.write_bytes(struct.pack("<5i", 0, 2**28, 1, 0, 7) + b"joints\0" + b"\0" * 64)
    _run(read_lsp_joints, mat4, ("cannot read",))
    pkl = tmp_path / "cameras.pkl"  # BINBYTES of 2**31 - 1 bytes, then almost nothing
    pkl.write_bytes(b"\x80\x04B" + struct.pack("<I", 2**31 - 1) + b"abc.")
    _run(load_h36m_cameras, pkl, ("cannot read",))
    npz = tmp_path / "frames.npz"  # an npy header declaring 2**28 doubles, no data
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (268435456,), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117).encode() + b"\n"
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("part.npy", npy)
    _run(read_h36m_frames, npz, ("cannot read",))
    for path in (mat4, pkl, npz):
        with pytest.raises(ValueError, match=re.escape(str(path))):
            {mat4: read_lsp_joints, pkl: load_h36m_cameras, npz: read_h36m_frames}[path](path)
