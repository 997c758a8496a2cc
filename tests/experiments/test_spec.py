"""Experiment files: the shipped ones expand to their documented cells; a bad file is one line, exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from experiment_factory import REPO_STAGES, experiment_args, write_tiny_overlay

from sevila.cli import main as sevila_main
from sevila.experiments.grid import plan_cells
from sevila.experiments.plan import Context
from sevila.experiments.spec import load_experiment

# name -> (cells, distinct stage runs) on the tiny settings
SHIPPED = {
    "table2_3": (8, 14), "table5": (5, 8), "table7": (7, 8), "table9": (4, 5), "table14": (3, 10),
    "keyframes_k": (4, 9), "table16": (4, 5), "study_count": (4, 8), "gated_labels": (4, 9),
    "study_answerer": (6, 8),  # the tiny settings train 1 epoch: its 1-epoch Answerer is its fine-tuned one
}


def _context(stages: Path, tmp_path: Path, backbone: Path) -> Context:
    return Context("demo", "demo_qa", str(backbone), stages, tmp_path / "checkpoints", tmp_path / "results",
                   (write_tiny_overlay(tmp_path / "tiny.yaml"),))


def test_every_shipped_experiment_is_documented_here() -> None:
    assert sorted(p.stem for p in (REPO_STAGES / "experiments").glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_experiment_expands_to_its_cells(name: str, stages: Path, tmp_path: Path,
                                                 tiny_backbone_dir: Path) -> None:
    cells = plan_cells(load_experiment(name, stages / "experiments"), _context(stages, tmp_path, tiny_backbone_dir))
    folders = {run.folder for cell in cells for run in cell.runs}
    assert (len(cells), len(folders)) == SHIPPED[name]
    assert all(cell.runs[-1].stage == "evaluate" for cell in cells)


def test_cells_share_the_stage_runs_of_equal_configuration_across_experiments(stages: Path, tmp_path: Path,
                                                                            tiny_backbone_dir: Path) -> None:
    context = _context(stages, tmp_path, tiny_backbone_dir)
    planned = {name: plan_cells(load_experiment(name, stages / "experiments"), context) for name in SHIPPED}
    runs = {name: {cell.spec.setting: cell.runs for cell in cells} for name, cells in planned.items()}
    assert len({run.folder for cells in planned.values() for cell in cells for run in cell.runs}) == 46
    # Table 5's uniform cell is Table 2/3's; the gated study's paper-rule cells are Table 5's refinements; the
    # Answerer study's zero-shot and fine-tuned cells are Table 5's and Table 2/3's
    assert runs["table5"]["4 uniform frames"] == runs["table2_3"]["zero-shot, 4 uniform frames"]
    assert runs["gated_labels"]["refined only, paper rule"] == runs["table5"]["refined only"]
    assert runs["gated_labels"]["pre-trained + refined, paper rule"] == runs["table5"]["pre-trained + refined"]
    assert runs["gated_labels"]["refined only, gated rule"][-2] != runs["table5"]["refined only"][-2]
    assert runs["study_answerer"]["zero-shot Answerer, + refined"] == runs["table5"]["pre-trained + refined"]
    assert runs["study_answerer"]["fine-tuned Answerer, + refined"] == runs["table2_3"][
        "fine-tuned, Localizer pre-trained + refined"]
    # the same evaluation of the same weights, named in two tables, is one folder
    assert runs["table5"]["pre-trained"][-1].folder == runs["table2_3"]["zero-shot, Localizer pre-trained"][-1].folder
    # the count study's cells are Table 2/3's on other data: each Answerer fine-tuned on the frames it is evaluated on
    for setting, same in (("4 uniform frames", "fine-tuned, 4 uniform frames"),
                          ("4 keyframes, pre-trained Localizer", "fine-tuned, Localizer pre-trained"),
                          ("32 uniform frames", "fine-tuned, 32 uniform frames"),
                          ("zero-shot, 4 keyframes of the pre-trained Localizer", "zero-shot, Localizer pre-trained")):
        assert [r.folder for r in runs["study_count"][setting]] == [r.folder for r in runs["table2_3"][same]], setting
    assert runs["table14"]["round 1"] == runs["table2_3"]["fine-tuned, Localizer pre-trained + refined"]
    # the paper wording is the default: naming it changes nothing
    assert [r.folder for r in runs["table16"]["paper"]] == [
        r.folder for r in runs["table2_3"]["zero-shot, Localizer pre-trained"]]
    # k=2 is the tiny settings' default: a setting equal to its layers' value is the same configuration
    assert runs["keyframes_k"]["k=2"][1].folder == runs["table2_3"]["fine-tuned, Localizer pre-trained"][1].folder
    assert runs["keyframes_k"]["k=1"][1].folder != runs["keyframes_k"]["k=2"][1].folder
    # round 2 starts from round 1's outputs: its folders differ from round 1's, and their digests name them
    round_2 = runs["table14"]["round 2"]
    assert [run.stage for run in round_2] == ["pretrain_localizer", "finetune_answerer", "refine_localizer",
                                              "finetune_answerer", "refine_localizer", "evaluate"]
    assert round_2[3].inputs == {"init_localizer": round_2[2], "init_answerer": round_2[1]}
    assert len({run.folder for run in round_2}) == 6


BAD = [
    ({"title": "t", "cels": []}, "unknown key 'cels'; expected one of title, paper_source, runs, cells"),
    ({"cells": [{"setting": "a", "evalute": {}}]}, "cells[0]: unknown key 'evalute'"),
    ({"cells": [{"setting": "a", "evaluate": {"set": {"model.init_args.bogus": 1}}}]},
     "model.init_args.bogus: unknown setting by sevila.stages.Evaluate"),
    ({"cells": [{"setting": "a", "evaluate": {"set": {"model.init_args.selection": "sideways"}}}]},
     "model.init_args.selection: 'sideways' is refused by sevila.stages.Evaluate"),
    ({"cells": [{"setting": "a", "evaluate": {"set": {"data.init_args.num_frames": "many"}}}]},
     "data.init_args.num_frames: 'many' is refused by sevila.data.datamodules.DemoQA"),
    ({"cells": [{"setting": "a", "evaluate": {"set": {"num_frames": 8}}}]},
     "unknown setting 'num_frames'; settings start with model.init_args., data.init_args., trainer."),
    ({"cells": [{"setting": "a", "evaluate": {"set": {"model.init_args.init_answerer": "x.safetensors"}}}]},
     "model.init_args.init_answerer is set by the runner"),
    ({"cells": [{"setting": "a", "evaluate": {"init_localizer": "localiser"}}]},
     "evaluate.init_localizer names 'localiser', which is no run; known runs: none"),
    ({"runs": {"a": {"stage": "finetune_answerer", "init_localizer": "b"},
               "b": {"stage": "refine_localizer", "init_answerer": "a"}},
      "cells": [{"setting": "x", "evaluate": {"init_answerer": "a"}}]}, "runs evaluate -> a -> b -> a form a cycle"),
    ({"runs": {"a": {"stage": "train"}}, "cells": [{"setting": "x", "evaluate": {}}]},
     "runs.a.stage: 'train' is not a stage"),
    ({"cells": [{"setting": "a", "evaluate": {}}, {"setting": "a", "evaluate": {}}]},
     "cells[1].setting: expected a unique non-empty name, got 'a'"),
    ({"cells": [{"setting": "a", "evaluate": {}}, {"setting": "b", "evaluate": {}}],
      "compare": [{"label": "b vs a", "base": "a", "other": "c"}]},
     "compare[0].other: 'c' is no cell's setting; cells: a; b"),
    ({"cells": [{"setting": "a", "evaluate": {}}], "compare": [{"label": "x", "base": "a", "othre": "a"}]},
     "compare[0]: unknown key 'othre'; expected one of label, base, other"),
    ({"cells": [{"setting": "a", "evaluate": {}}], "compare": {"label": "x"}},
     "compare: expected a list of {label, base, other}, got dict"),
]


@pytest.mark.parametrize(("tree", "expected"), BAD)
def test_a_bad_experiment_file_is_one_line_and_exit_2(tree: dict, expected: str, stages: Path, tmp_path: Path,
                                                      tiny_backbone_dir: Path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tree))
    args = experiment_args(tmp_path, stages, tiny_backbone_dir, write_tiny_overlay(tmp_path / "tiny.yaml"))
    assert sevila_main(["experiment", str(path), "--dry-run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sevila experiment: error: ")
    assert expected in err
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(("argv", "expected"), [
    (["tabel7"], "unknown experiment 'tabel7'; known: gated_labels, keyframes_k, study_answerer, study_count, table14, table16, table2_3, table5, table7, table9"),
    (["table7", "--cells", "n=99*"], "--cells 'n=99*' matches no cell of table7; its cells: BLIP-2 voting, 8 frames;"),
    (["table7", "--profile", "lab"], "argument --profile: invalid choice: 'lab'"),
    (["table7", "--dataset", "nextqa2"], "--dataset nextqa2: no "),
])
def test_bad_arguments_are_one_line_and_exit_2(argv: list[str], expected: str, stages: Path, tmp_path: Path,
                                               tiny_backbone_dir: Path, capsys) -> None:
    args = experiment_args(tmp_path, stages, tiny_backbone_dir, write_tiny_overlay(tmp_path / "tiny.yaml"))
    assert sevila_main(["experiment", *argv, "--dry-run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    if "--dataset" in argv:
        assert "; known: " in err and "demo_qa" in err and "nextqa" in err


def test_the_demo_profile_without_the_demo_data_says_to_run_make_demo(stages: Path, tmp_path: Path, capsys) -> None:
    args = ["--stages", str(stages), "--checkpoints", str(tmp_path / "c"), "--results", str(tmp_path / "r"),
            "--backbone", str(tmp_path / "no_backbone")]
    assert sevila_main(["experiment", "table7", *args]) == 2
    assert capsys.readouterr().err == (f"sevila experiment: error: {tmp_path / 'no_backbone'}: not found; "
                                       "run `make demo` first (it builds the demo data and backbone)\n")


def test_dry_run_lists_every_cell_and_its_stage_runs_and_runs_nothing(stages: Path, tmp_path: Path,
                                                                       tiny_backbone_dir: Path, capsys) -> None:
    args = experiment_args(tmp_path, stages, tiny_backbone_dir, write_tiny_overlay(tmp_path / "tiny.yaml"))
    assert sevila_main(["experiment", "table7", "--dry-run", "--cells", "n=16*", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" /")[0] for line in lines] == [
        "[1/2] table7 n=16 k=1: to run", "    pretrain_localizer: to run", "    evaluate: to run",
        "[2/2] table7 n=16 k=4: to run", "    pretrain_localizer: to run", "    evaluate: to run"]
    folders = [Path(line.split(" to run ")[1]) for line in lines if line.startswith("    ")]
    stage_root = tmp_path / "checkpoints" / "experiments" / "stages"
    assert folders[0] == folders[2] and folders[0].parent == stage_root / "pretrain_localizer"
    assert folders[1] != folders[3] and {f.parent for f in folders[1::2]} == {stage_root / "evaluate"}
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "results").exists()


def test_a_backbone_with_other_weights_trains_in_other_folders(stages: Path, tmp_path: Path,
                                                               tiny_backbone_dir: Path) -> None:
    other = tmp_path / "other_backbone"
    shutil.copytree(tiny_backbone_dir, other)
    weights = next(other.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of other weights
    weights.write_bytes(bytes(data))
    experiment = load_experiment("table5", stages / "experiments")
    first = plan_cells(experiment, _context(stages, tmp_path, tiny_backbone_dir))
    again = plan_cells(experiment, _context(stages, tmp_path, tiny_backbone_dir))
    changed = plan_cells(experiment, _context(stages, tmp_path, other))
    assert [r.folder for c in first for r in c.runs] == [r.folder for c in again for r in c.runs]
    assert not {r.folder for c in first for r in c.runs} & {r.folder for c in changed for r in c.runs}
