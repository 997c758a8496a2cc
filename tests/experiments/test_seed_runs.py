"""A real 2-seed run of a 1-cell experiment: two small demo worlds built by the demo generator beforehand (the
backbone the tiny one, so the runner skips building them), each seed's evaluation a real `sevila test`, the
per-seed tables and the table over the seeds."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml
from experiment_factory import experiment_args, write_tiny_overlay

from sevila.cli import main as sevila_main
from sevila.demo.benchmark import SyntheticSettings, generate_benchmark

GRID = {"title": "one cell", "cells": [{"setting": "zero-shot", "evaluate": {"set": {"model.init_args.selection":
                                                                                       "uniform"}}}]}


def _world(folder: Path, seed: int, backbone: Path) -> None:
    generate_benchmark(folder, SyntheticSettings(num_train_videos=1, num_val_videos=2, num_moment_videos=1,
                                                 num_moment_val_videos=1, size=32, seed=seed))
    shutil.copytree(backbone, folder / "backbone")
    (folder / "backbone" / "pretraining.json").write_text("{}")  # what marks a demo backbone complete


@pytest.mark.slow
def test_two_seeds_run_each_world_and_write_mean_se(stages: Path, tmp_path: Path, tiny_backbone_dir: Path,
                                                    capsys) -> None:
    root = tmp_path / "world"
    _world(root, 0, tiny_backbone_dir)
    _world(tmp_path / "world-seed1", 1, tiny_backbone_dir)
    (stages / "experiments" / "one.yaml").write_text(yaml.safe_dump(GRID))
    args = experiment_args(tmp_path, stages, tiny_backbone_dir, write_tiny_overlay(tmp_path / "tiny.yaml"))
    capsys.readouterr()
    assert sevila_main(["experiment", "one", "--seeds", "0", "1", "--data-root", str(root), *args]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split(" ... ")[0] for line in lines[:-1]] == [
        "seed 0: demo-data", "seed 0: demo-backbone", "[1/1] one seed 0 zero-shot: evaluate",
        "[1/1] one seed 0 zero-shot: evaluate", "seed 1: demo-data", "seed 1: demo-backbone",
        "[1/1] one seed 1 zero-shot: evaluate", "[1/1] one seed 1 zero-shot: evaluate"]
    assert " ... finished before " in lines[0] and " ... finished before " in lines[5]
    results = tmp_path / "results" / "experiments" / "one"
    seeds = []
    for seed, world in ((0, root), (1, tmp_path / "world-seed1")):
        with open(results / f"seed-{seed}" / "table.csv", encoding="utf-8") as handle:
            [row] = list(csv.DictReader(handle))
        step = json.loads((Path(row["run folder"]) / "step.json").read_text())
        assert f"--data.init_args.annotation_dir={world / 'qa'}" in step["command"]
        assert f"--model.init_args.backbone={world / 'backbone'}" in step["command"]
        assert f"--seed_everything={42 + seed}" in step["command"]
        predictions = json.loads((Path(row["run folder"]) / "predictions.json").read_text())
        assert {p["qid"] for p in predictions} == {r["qid"] for r in json.loads((world / "qa" / "val.json").read_text())}
        seeds.append(float(row["Acc"]))
    with open(results / "table.csv", encoding="utf-8") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["seeds"] == "2" and [float(row["Acc seed 0"]), float(row["Acc seed 1"])] == seeds
    assert float(row["Acc"]) == pytest.approx(sum(seeds) / 2, abs=0.006)
    assert float(row["Acc SE"]) == pytest.approx(abs(seeds[0] - seeds[1]) / 2, abs=0.006)  # n = 2: |a - b| / 2
    assert (results / "table.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
