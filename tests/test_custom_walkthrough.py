"""The README's custom-dataset walk-through on tiny data: its CSV, `sevila data check custom`, then stages 2, 3 and 4
with the configs the Makefile combines (stages/data/custom.yaml + stage YAML + demo profile, and a tiny overlay)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from profile_factory import perturbed_heads
from stage_runner import STAGES
from video_factory import write_indexed_video

from sevila.cli import main as sevila_main
from sevila.model.head_weights import read_heads, save_heads

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_csv() -> str:
    """The questions file the walk-through writes with `cat > data/custom/questions.csv <<'CSV'`."""
    match = re.search(r"cat > data/custom/questions\.csv <<'CSV'\n(.*?\n)CSV\n", README.read_text(), re.DOTALL)
    assert match, "README.md: the custom walk-through's questions.csv heredoc is missing"
    return match.group(1)


def _stage(verb: str, stage: str, tmp: Path, data: Path, backbone: Path, model: dict, name: str) -> int:
    overlay = {
        "model": {"init_args": {"backbone": str(backbone), "num_keyframes": 2, "warmup_steps": 1, **model}},
        "data": {"init_args": {"questions": str(data / "questions.csv"), "video_dir": str(data / "videos"),
                               "num_frames": 4, "eval_num_frames": 4, "batch_size": 4, "num_workers": 0}},
        "trainer": {"max_epochs": 1, "enable_progress_bar": False, "default_root_dir": str(tmp / name)},
    }
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(overlay))
    configs = [STAGES / "data" / "custom.yaml", STAGES / f"{stage}.yaml", STAGES / "profiles" / "demo.yaml",
               tmp / f"{name}.yaml"]
    return sevila_main([verb, *[arg for config in configs for arg in ("-c", str(config))]])


@pytest.mark.slow
def test_custom_walkthrough_checks_trains_refines_and_evaluates(tmp_path, lively_backbone_dir, capsys):
    data = tmp_path / "data" / "custom"
    (data / "videos").mkdir(parents=True)
    (data / "questions.csv").write_text(readme_csv())
    videos = sorted({line.split(",")[0] for line in readme_csv().splitlines()[1:]})
    assert videos == [f"val000{i}.mp4" for i in range(6)]
    for i, name in enumerate(videos):
        write_indexed_video(data / "videos" / name, num_frames=40 + 4 * i, fps=8, size=(48, 48))

    assert sevila_main(["data", "check", "custom", "--annotations", str(data / "questions.csv"),
                        "--videos", str(data / "videos")]) == 0
    printed = capsys.readouterr().out
    assert "questions per split: train 8, val 4, test 4" in printed and "12 custom records" in printed
    assert re.search(r"color\s+6", printed) and re.search(r"shape\s+6", printed)
    assert "videos: 6 checked, 0 missing, 0 unreadable" in printed

    localizer = tmp_path / "localizer.safetensors"  # stage 1's output, trained on moments elsewhere
    save_heads(perturbed_heads(lively_backbone_dir), localizer, ["localizer"], "pretrain_localizer")
    answerer, refined = tmp_path / "answerer.safetensors", tmp_path / "localizer_refined.safetensors"
    assert _stage("fit", "finetune_answerer", tmp_path, data, lively_backbone_dir,
                  {"init_localizer": str(localizer), "export_path": str(answerer)}, "finetune") == 0
    assert read_heads(answerer)[1]["stage"] == "finetune_answerer"
    assert _stage("fit", "refine_localizer", tmp_path, data, lively_backbone_dir,
                  {"init_localizer": str(localizer), "init_answerer": str(answerer), "export_path": str(refined),
                   "cache_dir": str(tmp_path / "pseudo_labels")}, "refine") == 0
    assert read_heads(refined)[1]["stage"] == "refine_localizer"
    results = tmp_path / "results"
    assert _stage("test", "evaluate", tmp_path, data, lively_backbone_dir,
                  {"init_localizer": str(refined), "init_answerer": str(answerer), "output_dir": str(results)},
                  "eval") == 0

    metrics = json.loads((results / "metrics.json").read_text())
    predictions = json.loads((results / "predictions.json").read_text())
    assert [p["qid"] for p in predictions] == ["color_10", "shape_11", "color_12", "shape_13"]  # the val rows
    assert [p["target"] for p in predictions] == [0, 4, 3, 1]
    assert metrics["num_evaluated"] == 4 and {"Acc", "Acc_color", "Acc_shape"} <= set(metrics)
    capsys.readouterr()
    assert sevila_main(["metrics", "custom", "--predictions", str(results / "predictions.json")]) == 0
    official = json.loads(capsys.readouterr().out)
    assert {key: metrics[key] for key in ("Acc", "Acc_color", "Acc_shape")} == {
        key: official[key] for key in ("Acc", "Acc_color", "Acc_shape")}
