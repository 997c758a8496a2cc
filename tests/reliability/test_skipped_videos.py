"""data.on_bad_video: `error` stops evaluation naming the record; `skip` lists and counts what it left out."""

from __future__ import annotations

import json
from pathlib import Path

from stage_runner import run_dir, run_stage, write_overlay

from sevila.stages.skipped_videos import REPORT_NAME


def _evaluate(tmp_path: Path, backbone: Path, data_root: Path, **data) -> int:
    overlay = write_overlay(tmp_path / "overlay.yaml", backbone, data_root, "qa", model={"output_dir": str(tmp_path)},
                            data=data, trainer={"default_root_dir": str(tmp_path)})
    return run_stage("test", "evaluate", "demo_qa", overlay)


def test_evaluation_stops_at_a_bad_video_by_default(tmp_path, capsys, tiny_backbone_dir, bad_benchmark) -> None:
    assert _evaluate(tmp_path, tiny_backbone_dir, bad_benchmark) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        f"sevila test: error: record 1 (qid Color_broken_1, video 'broken'): {bad_benchmark}/videos/broken.mp4: "
        "not a readable video"
    )
    assert not (tmp_path / "metrics.json").exists()


def test_evaluation_skip_counts_and_lists_skipped_videos_across_workers(tmp_path, tiny_backbone_dir, bad_benchmark):
    assert _evaluate(tmp_path, tiny_backbone_dir, bad_benchmark, on_bad_video="skip", num_workers=2, batch_size=1) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["num_evaluated"], metrics["skipped_videos"]) == (2, 1)
    assert [p["qid"] for p in json.loads((tmp_path / "predictions.json").read_text())] == ["Color_v2_1", "Color_v0_1"]
    (entry,) = [json.loads(line) for line in (tmp_path / REPORT_NAME).read_text().splitlines()]
    assert (entry["qid"], entry["video"]) == ("Color_broken_1", "broken")
    assert entry["reason"].startswith(f"{bad_benchmark}/videos/broken.mp4: not a readable video")


def test_evaluation_without_bad_videos_reports_zero_and_writes_no_list(tmp_path, tiny_backbone_dir, bad_benchmark):
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "val.json").write_text((bad_benchmark / "qa" / "val.json").read_text().replace("broken", "v1"))
    (tmp_path / "videos").symlink_to(bad_benchmark / "videos")
    assert _evaluate(tmp_path, tiny_backbone_dir, tmp_path, on_bad_video="skip") == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["skipped_videos"] == 0
    assert not (tmp_path / REPORT_NAME).exists()


def test_training_skip_writes_the_report_into_the_run_folder(answerer_run) -> None:
    (report,) = run_dir(answerer_run).glob(f"lightning_logs/version_*/{REPORT_NAME}")
    (entry,) = [json.loads(line) for line in report.read_text().splitlines()]
    assert (entry["qid"], entry["video"]) == ("Color_broken_0", "broken")
