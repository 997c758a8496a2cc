"""The four stage YAMLs run through `sevila fit|test`, each starting from the previous stage's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from stage_runner import run_stage, write_overlay

from sevila.model.head_weights import read_heads


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_backbone_dir, tiny_benchmark) -> Path:
    """Runs stage 1 -> 2 -> 3 -> 4 once; returns the folder holding every output."""
    out = tmp_path_factory.mktemp("chain")
    localizer, answerer, refined = out / "localizer.safetensors", out / "answerer.safetensors", out / "refined.safetensors"

    def overlay(name: str, folder: str, **model) -> Path:
        return write_overlay(out / f"{name}.yaml", tiny_backbone_dir, tiny_benchmark, folder, model=model,
                             trainer={"default_root_dir": str(out / name)})

    assert run_stage("fit", "pretrain_localizer", "demo_moments", overlay("s1", "moments", export_path=str(localizer))) == 0
    assert run_stage("fit", "finetune_answerer", "demo_qa", overlay(
        "s2", "qa", init_localizer=str(localizer), export_path=str(answerer))) == 0
    assert run_stage("fit", "refine_localizer", "demo_qa", overlay(
        "s3", "qa", init_localizer=str(localizer), init_answerer=str(answerer), export_path=str(refined),
        cache_dir=str(out / "pseudo_labels"))) == 0
    assert run_stage("test", "evaluate", "demo_qa", overlay(
        "s4", "qa", init_localizer=str(refined), init_answerer=str(answerer), output_dir=str(out / "results"))) == 0
    return out


def test_chain_each_stage_exports_only_its_trained_module(chain):
    for name, module, stage in (("localizer", "localizer", "pretrain_localizer"),
                                ("answerer", "answerer", "finetune_answerer"),
                                ("refined", "localizer", "refine_localizer")):
        tensors, metadata = read_heads(chain / f"{name}.safetensors")
        assert {key.split(".")[0] for key in tensors} == {module}
        assert metadata["stage"] == stage


def test_chain_refinement_changes_the_pretrained_localizer(chain):
    pretrained, _ = read_heads(chain / "localizer.safetensors")
    refined, _ = read_heads(chain / "refined.safetensors")
    assert pretrained.keys() == refined.keys()
    assert any(not pretrained[k].equal(refined[k]) for k in pretrained)


def test_chain_evaluate_writes_predictions_for_every_question(chain, tiny_benchmark):
    predictions = json.loads((chain / "results" / "predictions.json").read_text())
    questions = json.loads((tiny_benchmark / "qa" / "val.json").read_text())
    assert sorted(p["qid"] for p in predictions) == sorted(q["qid"] for q in questions)
    for row in predictions:
        assert set(row) == {"qid", "prediction", "target", "frame_idx", "window"}
        assert len(row["frame_idx"]) == 2 and row["frame_idx"] == sorted(row["frame_idx"])
    metrics = json.loads((chain / "results" / "metrics.json").read_text())
    assert metrics["num_evaluated"] == len(questions) and 0 <= metrics["Acc"] <= 100 and not metrics["zero_shot"]


def test_chain_refine_caches_pseudo_labels(chain, tiny_benchmark):
    labels = json.loads((chain / "pseudo_labels" / "pseudo_labels.rank0.json").read_text())
    train_questions = json.loads((tiny_benchmark / "qa" / "train.json").read_text())
    assert len(labels) == 4 * len(train_questions)  # n=4 frames per question, each judged alone
    assert all(isinstance(v, bool) for v in labels.values())


def test_chain_writes_tensorboard_logs_and_last_checkpoint(chain):
    for stage in ("s1", "s2", "s3"):
        assert list((chain / stage).rglob("events.out.tfevents.*")), stage
        assert list((chain / stage).rglob("last.ckpt")), stage


def test_chain_moment_evaluation_writes_submission_and_metrics(chain, tmp_path, tiny_backbone_dir, tiny_benchmark):
    overlay = write_overlay(tmp_path / "qvh.yaml", tiny_backbone_dir, tiny_benchmark, "moments", model={
        "init_localizer": str(chain / "localizer.safetensors"), "output_dir": str(tmp_path / "qvh")},
        data={"test_file": "val.json"}, trainer={"default_root_dir": str(tmp_path)})
    assert run_stage("test", "pretrain_localizer", "demo_moments", overlay) == 0
    lines = [json.loads(line) for line in (tmp_path / "qvh" / "moments.jsonl").read_text().splitlines()]
    assert sorted(line["qid"] for line in lines) == [30, 31]  # the two validation queries, official integer ids
    metrics = json.loads((tmp_path / "qvh" / "metrics.json").read_text())
    assert metrics["num_evaluated"] == 2
    assert {"MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mAP", "MR-full-mAP@0.5", "MR-full-mAP@0.75"} <= set(metrics)


def test_chain_logs_a_keyframe_picture_to_tensorboard(chain):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = next((chain / "s2").rglob("events.out.tfevents.*"))
    accumulator = EventAccumulator(str(events.parent), size_guidance={"images": 0})
    accumulator.Reload()
    assert "keyframes" in accumulator.Tags()["images"]
    assert "val/acc" in accumulator.Tags()["scalars"] and "train/loss" in accumulator.Tags()["scalars"]
