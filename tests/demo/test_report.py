"""The demo report's numbers from hand-made evaluation files: accuracy, keyframe hits and grounding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sevila.demo.report import mode_summary


def test_mode_summary_scores_keyframes_and_windows_against_the_event(tmp_path: Path) -> None:
    # Video v0's event is frames 8..15 at 8 fps, so 1.0 s to 2.0 s; v1's is frames 0..7, 0.0 s to 1.0 s.
    windows, videos = {"v0": [[8, 15]], "v1": [[0, 7]]}, {"Color_v0_0": "v0", "Shape_v1_0": "v1"}
    predictions = [
        # right answer, 2 of 2 keyframes in the event, window 1.25-1.75 s inside it: IoU 0.5, IoP 1
        {"qid": "Color_v0_0", "prediction": 1, "target": 1, "frame_idx": [10, 14], "window": [1.25, 1.75]},
        # wrong answer, 1 of 2 keyframes in the event, window 0.5-1.5 s half in it: IoU 1/3, IoP 0.5
        {"qid": "Shape_v1_0", "prediction": 0, "target": 2, "frame_idx": [4, 12], "window": [0.5, 1.5]},
    ]
    (tmp_path / "predictions.json").write_text(json.dumps(predictions))
    (tmp_path / "metrics.json").write_text(json.dumps({"Acc": 50.0}))
    summary = mode_summary(tmp_path, videos, windows, fps=8)
    assert summary["accuracy"] == 50.0 and summary["keyframe_hit_rate"] == 75.0
    assert summary["mIoU"] == pytest.approx(round(100 * (0.5 + 1 / 3) / 2, 1))  # 41.7
    assert summary["IoP@0.5"] == 100.0  # both IoPs reach 0.5
    assert summary["Acc@GQA"] == 50.0  # right and IoP >= 0.5: the first question only
