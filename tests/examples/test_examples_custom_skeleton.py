"""examples/custom_skeleton.py: a user's own layout registered in a few lines trains, evaluates
and predicts with that layout's joints end to end."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_skeleton.py"


def test_custom_upper_body_layout_end_to_end(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("custom_skeleton_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    from posekit.skeletons import unregister_skeleton

    try:
        spec.loader.exec_module(example)
        out = example.main(
            [
                "--steps",
                "2",
                "--num",
                "8",
                "--val-num",
                "4",
                "--size",
                "128",
                "--out",
                str(tmp_path),
            ]
        )
        _check(out)
    finally:
        unregister_skeleton("upper_body9")  # the other tests see the built-in layouts only


def _check(out: dict) -> None:
    names = ["nose", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow"]
    names += ["l_wrist", "r_wrist", "l_hip", "r_hip"]
    ev = out["report"].evaluation
    assert ev.skeleton == "upper_body9" and ev.num_samples == 4
    assert all(len(col) == 9 for col in ev.per_joint.values())
    # The layout has a nose and both shoulders: PCKh uses the nose-to-shoulders head length.
    assert math.isfinite(ev.metrics["pckh_0.5"])
    pred = out["prediction"]
    assert pred.skeleton == "upper_body9" and pred.keypoints.shape == (1, 9, 2)
    assert np.isfinite(pred.keypoints).all()
    # The layout's own flip pairs (from the l_/r_ names) swap left and right.
    from posekit.skeletons import get_skeleton

    sk = get_skeleton("upper_body9")
    assert list(sk.joints) == names
    perm = sk.flip_permutation
    assert [sk.joints[i] for i in perm] == [
        "nose", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow",
        "r_wrist", "l_wrist", "r_hip", "l_hip",
    ]  # fmt: skip
