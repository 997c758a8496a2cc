"""The comparisons table and compare.png from hand-made evaluation outputs, per seed and over seeds."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import yaml
from experiment_factory import write_tiny_overlay

from sevila.experiments.grid import Cell, plan_cells
from sevila.experiments.over_seeds import write_seed_table
from sevila.experiments.plan import Context
from sevila.experiments.spec import load_experiment
from sevila.experiments.table import write_table

GRID = {"title": "refine or not", "runs": {"refined": {"stage": "refine_localizer"}},
        "cells": [{"setting": "base", "evaluate": {}}, {"setting": "refined", "evaluate": {"init_localizer": "refined"}}],
        "compare": [{"label": "refinement", "base": "base", "other": "refined"}]}
# train clips' windows (experiment_factory.EVENT_WINDOWS): v0 [0, 11], v1 [12, 23], v2 [4, 19]. Labelled yes: frames
# 3 and 10 inside, 15 outside -> precision 2/3; inside frames 3, 10 (yes), 14, 5 (no) -> recall 2/4.
LABELS = {"Shape_v0_0|3": True, "Shape_v0_0|15": True, "Color_v1_1|14": False, "Color_v1_1|2": False,
          "Shape_v2_0|10": True, "Shape_v2_0|5": False}


def _evaluated(cell: Cell, correct: list[bool]) -> None:
    """What `sevila test` writes, by hand: the two validation questions of v3 (its window [4, 8])."""
    folder = cell.evaluation.folder
    folder.mkdir(parents=True)
    rows = [{"qid": qid, "prediction": 0 if right else 1, "target": 0, "frame_idx": [5, 17]}
            for qid, right in zip(("Shape_v3_0", "Color_v3_1"), correct)]
    (folder / "predictions.json").write_text(json.dumps(rows))
    (folder / "metrics.json").write_text(json.dumps({"Acc": 50.0 * sum(correct)}))


def _plan(stages: Path, tmp_path: Path, backbone: Path, seed: int | None, grid: dict = GRID) -> tuple:
    (stages / "experiments" / "refine.yaml").write_text(yaml.safe_dump(grid))
    context = Context("demo", "demo_qa", str(backbone), stages, tmp_path / "c", tmp_path / "r",
                      (write_tiny_overlay(tmp_path / "tiny.yaml"),), seed=seed)
    experiment = load_experiment("refine", stages / "experiments")
    return experiment, context, plan_cells(experiment, context)


def _labelled(cells: tuple[Cell, ...]) -> None:
    refine = cells[1].runs[0]
    assert refine.stage == "refine_localizer"
    (refine.folder / "pseudo_labels").mkdir(parents=True)
    (refine.folder / "pseudo_labels" / "pseudo_labels.rank0.json").write_text(json.dumps(LABELS))


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_one_run_writes_the_paired_difference_and_the_pseudo_label_precision_recall(
        stages: Path, tmp_path: Path, tiny_backbone_dir: Path) -> None:
    experiment, context, cells = _plan(stages, tmp_path, tiny_backbone_dir, None)
    _evaluated(cells[0], [True, False])
    _evaluated(cells[1], [True, True])
    _labelled(cells)
    folder = write_table(experiment, cells, context)
    # differences 0, 1: mean 50, sample std sqrt(1/2), SE 0.5 -> 50.00 ± 50.00
    [row] = _csv(folder / "compare.csv")
    assert {k: row[k] for k in ("comparison", "base", "other", "base Acc", "difference", "difference SE",
                                "questions", "pseudo-label precision", "pseudo-label recall")} == {
        "comparison": "refinement", "base": "base", "other": "refined", "base Acc": "50.00", "difference": "50.00",
        "difference SE": "50.00", "questions": "2", "pseudo-label precision": "66.67", "pseudo-label recall": "50.00"}
    text = (folder / "table.md").read_text()
    assert "Difference: other - base in Acc (points) ± its standard error (paired, over the questions)." in text
    assert "## Comparisons" in text and "| refinement | base | refined | 50.00 | 50.00 ± 50.00 | 2 | 66.67 | 50.00 |" in text
    assert (folder / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_over_seeds_the_tables_show_mean_se_and_each_seeds_acc(stages: Path, tmp_path: Path,
                                                                tiny_backbone_dir: Path) -> None:
    cells_by_seed = {}
    for seed, (base, refined) in {0: ([True, False], [True, True]), 1: ([False, False], [True, False]),
                                  2: ([True, True], [True, True])}.items():
        experiment, context, cells = _plan(stages, tmp_path, tiny_backbone_dir, seed)
        _evaluated(cells[0], base)
        _evaluated(cells[1], refined)
        _labelled(cells)
        cells_by_seed[seed] = cells
    assert len({cell.evaluation.folder for cells in cells_by_seed.values() for cell in cells}) == 6
    folder = write_seed_table(experiment, replace(context, seed=None), cells_by_seed, tmp_path / "out")
    table = _csv(folder / "table.csv")
    # base Acc 50, 0, 100: mean 50, SE 50 / sqrt(3) * sqrt(3) = 28.87; refined 100, 50, 100: 83.33 ± 16.67
    assert [(r["setting"], r["seeds"], r["Acc"], r["Acc SE"]) for r in table] == [
        ("base", "3", "50.00", "28.87"), ("refined", "3", "83.33", "16.67")]
    assert [table[0][f"Acc seed {s}"] for s in range(3)] == ["50.00", "0.00", "100.00"]
    assert table[0]["keyframe hit rate"] == "50.00" and table[0]["keyframe hit rate SE"] == "0.00"
    # differences 50, 50, 0: mean 33.33, SE 16.67
    [row] = _csv(folder / "compare.csv")
    assert (row["seeds"], row["difference"], row["difference SE"], row["base Acc"]) == ("3", "33.33", "16.67", "50.00")
    assert (row["pseudo-label precision"], row["pseudo-label precision SE"]) == ("66.67", "0.00")
    text = (folder / "table.md").read_text()
    assert "± its standard error (over the seeds)." in text
    assert "Over seeds 0, 1, 2: mean ± standard error" in text and "| base | 3 | 50.00 ± 28.87 |" in text
    assert (folder / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_gated_refinement_is_scored_on_its_own_rules_labels(stages: Path, tmp_path: Path,
                                                              tiny_backbone_dir: Path) -> None:
    grid = json.loads(json.dumps(GRID))
    grid["runs"]["refined"]["set"] = {"model.init_args.pseudo_label_rule": "confidence",
                                      "model.init_args.pseudo_label_threshold": 0.5}
    experiment, context, cells = _plan(stages, tmp_path, tiny_backbone_dir, None, grid)
    _evaluated(cells[0], [True, False])
    _evaluated(cells[1], [True, True])
    labels = cells[1].runs[0].folder / "pseudo_labels"
    (labels / "confidence-0.5").mkdir(parents=True)  # where stage 3 caches the gated rule's labels
    (labels / "confidence-0.5" / "pseudo_labels.rank0.json").write_text(json.dumps(LABELS))
    # the paper rule's top-level labels (all yes) must not be the ones scored
    (labels / "pseudo_labels.rank0.json").write_text(json.dumps({key: True for key in LABELS}))
    [row] = _csv(write_table(experiment, cells, context) / "compare.csv")
    assert (row["pseudo-label precision"], row["pseudo-label recall"]) == ("66.67", "50.00")
