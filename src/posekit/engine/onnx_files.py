"""ONNX files on disk: atomic writes, the ``.onnx`` / ``.onnx.data`` pair, posekit metadata.

Writes (`save_atomically`) go into a temporary folder beside the target (same file system),
are fsync-ed, optionally checked there, and renamed into place, the data file before the
model, so a reader never sees a partial model and a failure leaves nothing new. A stale
``<name>.onnx.data`` of an earlier export is removed when the new file embeds its weights.

Metadata: posekit's description of a model is stored in the ONNX ``metadata_props`` as
``posekit.<key>`` → JSON text (`encode_metadata`, `decode_metadata`, `read_onnx_metadata`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from posekit._io import fsync_dir

__all__ = [
    "METADATA_FORMAT",
    "METADATA_PREFIX",
    "OnnxSaver",
    "ProtoSaver",
    "data_file",
    "decode_metadata",
    "encode_metadata",
    "onnx_files",
    "read_onnx_metadata",
    "save_atomically",
]

#: Prefix of posekit's keys in the ONNX ``metadata_props``.
METADATA_PREFIX = "posekit."
#: Format of the posekit metadata (bumped when its meaning changes).
METADATA_FORMAT = 1


# --- metadata ------------------------------------------------------------------------------


def encode_metadata(meta: Mapping[str, Any]) -> dict[str, str]:
    """``{"posekit.<key>": JSON text}`` for each entry of ``meta`` (values JSON-serializable)."""
    return {f"{METADATA_PREFIX}{k}": json.dumps(v) for k, v in meta.items()}


def decode_metadata(props: Mapping[str, str]) -> dict[str, Any]:
    """The posekit entries of ONNX ``metadata_props`` (key → value), prefix removed, decoded.

    Keys without the ``posekit.`` prefix are ignored; a value that is not JSON is kept as text.
    """
    meta: dict[str, Any] = {}
    for key, text in props.items():
        if key.startswith(METADATA_PREFIX):
            try:
                meta[key[len(METADATA_PREFIX) :]] = json.loads(text)
            except json.JSONDecodeError:
                meta[key[len(METADATA_PREFIX) :]] = text
    return meta


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The posekit metadata of an ONNX file (``{}`` when it has none); weights are not read.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an ONNX model.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        proto = onnx.load_model(str(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends
        raise ValueError(f"{path}: not an ONNX model: {err}") from None
    return decode_metadata({p.key: p.value for p in proto.metadata_props})


# --- files ---------------------------------------------------------------------------------


def data_file(path: str | os.PathLike[str]) -> Path:
    """Where the external weights of the ONNX file ``path`` go: ``<path>.data`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".data")


def onnx_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of an exported model: ``path`` and, if present, ``<path>.data``."""
    return [p for p in (Path(path), data_file(path)) if p.is_file()]


class OnnxSaver(Protocol):
    """A model held in memory that `save_atomically` can write."""

    def set_metadata(self, props: Mapping[str, str]) -> None:
        """Set these ``metadata_props`` entries (others are kept)."""

    def save(self, path: Path, external_data: bool) -> None:
        """Write the model to ``path``; with ``external_data``, its weights to
        `data_file` ``(path)``."""


class ProtoSaver:
    """An ``onnx.ModelProto``, saved with ``onnx.save_model`` (an `OnnxSaver`)."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto

    def set_metadata(self, props: Mapping[str, str]) -> None:
        """Set these ``metadata_props`` entries, replacing those of the same key."""
        kept = [p for p in self.proto.metadata_props if p.key not in props]
        del self.proto.metadata_props[:]
        self.proto.metadata_props.extend(kept)
        for key, value in props.items():
            entry = self.proto.metadata_props.add()
            entry.key, entry.value = key, value

    def save(self, path: Path, external_data: bool) -> None:
        """Write the model to ``path`` (all weights in `data_file` ``(path)`` if external)."""
        import onnx

        onnx.save_model(
            self.proto,
            str(path),
            save_as_external_data=external_data,
            all_tensors_to_one_file=True,
            location=data_file(path).name,
            size_threshold=0,
        )


def save_atomically(
    saver: OnnxSaver,
    path: str | os.PathLike[str],
    external_data: bool,
    check: Callable[[Path], Any] | None = None,
) -> None:
    """Write a model (and its data file) to ``path`` atomically (see the module docstring).

    Args:
        saver: the model to write.
        path: the ``.onnx`` file (folders are created).
        external_data: weights in ``<path>.data`` (True) or embedded (False; a stale
            ``<path>.data`` is then removed).
        check: called with the written file while it is still in the temporary folder; if it
            raises, nothing is renamed into place and the error propagates.

    Raises:
        RuntimeError: the saver wrote no model file (or no data file with ``external_data``).
        Whatever ``saver.save`` or ``check`` raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = data_file(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        staged = tmp / path.name
        staged_data = tmp / data.name
        saver.save(staged, external_data)
        if not staged.is_file():
            raise RuntimeError(f"the exporter wrote no model file ({staged})")
        if external_data and not staged_data.is_file():
            raise RuntimeError(f"the exporter wrote no external data file ({staged_data})")
        for f in (staged_data, staged) if external_data else (staged,):
            os.chmod(f, 0o644)
            _fsync_file(f)
        if check is not None:
            check(staged)
        # The data file first: the model file never names weights that are not there.
        if external_data:
            os.replace(staged_data, data)
        os.replace(staged, path)
        if not external_data:
            with contextlib.suppress(FileNotFoundError):
                data.unlink()  # an earlier export's weights: this file embeds its own
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
