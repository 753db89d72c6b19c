"""Run an exported model with ONNX Runtime (`OnnxRunner`) and compare it with torch
(`verify_onnx`).

`OnnxRunner` takes and returns dicts keyed like the torch model's ``forward`` inputs and
outputs (what ``posekit predict --backend onnx`` uses); `verify_onnx` returns the largest
absolute difference between ONNX Runtime (CPU) and torch on the same inputs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posekit.engine.onnx_export import model_inputs
from posekit.engine.onnx_files import decode_metadata

__all__ = ["OnnxRunner", "verify_onnx"]

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


class OnnxRunner:
    """Run an exported model with ONNX Runtime, with the torch model's input and output names.

    Args:
        path: an ``.onnx`` file (its ``.data`` file, if any, beside it).
        threads: ONNX Runtime intra-op threads (None: its default, all cores).
        providers: execution providers, in order of preference.

    Attributes:
        input_names, output_names: as in the torch model's ``forward`` inputs / outputs.
        metadata: the posekit metadata of the file
            (`posekit.engine.onnx_files.read_onnx_metadata`).

    Example:
        ``OnnxRunner("best.onnx")({"keypoints2d": kp, "visibility": vis})["joints3d"]``

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: ONNX Runtime cannot load the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int | None = None,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {self.path}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=list(providers)
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{self.path}: ONNX Runtime cannot load it: {err}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._input_dtypes = {
            i.name: _ORT_DTYPES.get(i.type, np.float32) for i in self.session.get_inputs()
        }
        self.metadata = decode_metadata(self.session.get_modelmeta().custom_metadata_map)

    def __call__(
        self, inputs: Mapping[str, Any] | Tensor | np.ndarray, as_torch: bool = False
    ) -> dict[str, Any]:
        """Run the model.

        Args:
            inputs: name → array (torch tensors or numpy arrays; cast to the input's dtype),
                or one array for a single-input model.
            as_torch: return torch tensors instead of numpy arrays.

        Returns:
            output name → (B, ...) array, the keys of the torch model's ``forward``.

        Raises:
            ValueError: missing or unknown input names (the message lists the expected ones).
        """
        if not isinstance(inputs, Mapping):
            if len(self.input_names) != 1:
                raise ValueError(
                    f"{self.path.name} takes inputs {', '.join(self.input_names)}: pass a dict"
                )
            inputs = {self.input_names[0]: inputs}
        missing = [k for k in self.input_names if k not in inputs]
        unknown = [k for k in inputs if k not in self.input_names]
        if missing or unknown:
            raise ValueError(
                f"{self.path.name}: expected inputs {', '.join(self.input_names)}; "
                f"missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'}"
            )
        feed = {k: self._array(k, v) for k, v in inputs.items()}
        results = self.session.run(self.output_names, feed)
        if as_torch:
            return {k: torch.from_numpy(np.asarray(v)) for k, v in zip(self.output_names, results)}
        return dict(zip(self.output_names, results))

    def _array(self, name: str, value: Any) -> np.ndarray:
        if isinstance(value, Tensor):
            value = value.detach().cpu().numpy()
        return np.ascontiguousarray(value, dtype=self._input_dtypes[name])


def verify_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    inputs: Any = None,
    batch_size: int = 3,
) -> float:
    """The largest absolute difference between ONNX Runtime (CPU) and torch on ``inputs``.

    Positions where both are NaN count as equal; NaN on one side only gives ``inf``.

    Args:
        model: the torch model (run in eval mode, ``no_grad``; its mode is restored).
        path: the exported file.
        inputs: as in `posekit.engine.onnx_export.export_onnx`; None:
            ``model.example_input(batch_size)``. Verifying at another batch than the
            export's checks the dynamic batch axis.
        batch_size: batch of the example input when ``inputs`` is None.

    Returns:
        ``max |onnx - torch|`` over every output element (0.0 for empty outputs).

    Raises:
        ValueError: the file's outputs are not the model's (names or shapes).
    """
    inputs = model_inputs(model, inputs, batch_size)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            expected = model(**inputs)
    finally:
        model.train(was_training)
    got = OnnxRunner(path)(inputs)
    if set(got) != set(expected):
        raise ValueError(
            f"{path}: outputs {sorted(got)} differ from the model's {sorted(expected)}"
        )
    worst = 0.0
    for key, ref in expected.items():
        ref_np = ref.detach().cpu().double().numpy()
        out = np.asarray(got[key], dtype=np.float64)
        if out.shape != ref_np.shape:
            raise ValueError(
                f"{path}: output {key!r} has shape {out.shape}, the model's {ref_np.shape}"
            )
        if out.size == 0:
            continue
        both_nan = np.isnan(out) & np.isnan(ref_np)
        diff = np.where(both_nan, 0.0, np.abs(out - ref_np))
        diff = np.where(np.isnan(diff), np.inf, diff)
        worst = max(worst, float(diff.max()))
    return worst
