"""--data-root and --seeds in the plan: each seed's world, backbone and seed_everything in its stage commands; the
default root and seed 0 are today's runs (the same digests); bad uses are one line, exit 2."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from experiment_factory import REPO_STAGES, experiment_args, write_tiny_overlay

from sevila.cli import main as sevila_main
from sevila.experiments.grid import plan_cells
from sevila.experiments.plan import Context
from sevila.experiments.seeds import seed_context, world_root
from sevila.experiments.spec import load_experiment

# table5's digests on the shipped stages/ with the demo backbone's name and no data/demo: the runs of `make experiment`
# must keep their folders. First pinned from world18 (6a3734c) before --data-root and --seeds existed; re-pinned when
# #18 changed the shipped YAMLs on purpose (the demo recipes, table5's uniform cell, stage 3's pseudo-label rule).
# (A change to a shipped stage YAML or a class default changes them on purpose: re-pin them then.)
TABLE5 = {"4 uniform frames": ["81aaf19a3a779465"],
          "no pre-training, no refinement": ["a4242dbf1eb956c2"],
          "pre-trained": ["a9b679c6d35ced9b", "25e8fb3216adb10c"],
          "refined only": ["77a26ccf3a2067ad", "0e209fc1d4db8110"],
          "pre-trained + refined": ["a9b679c6d35ced9b", "991e84b239743650", "894e61edcf64f46b"]}


def _digests(context: Context) -> dict[str, list[str]]:
    cells = plan_cells(load_experiment("table5", context.stages / "experiments"), context)
    return {cell.spec.setting: [run.digest for run in cell.runs] for cell in cells}


def test_default_root_and_seed_0_keep_the_digests_of_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no data/demo here: the digests depend on the configuration only
    default = Context("demo", "demo_qa", "data/demo/backbone", REPO_STAGES)
    assert _digests(default) == TABLE5
    assert _digests(replace(default, data_root=Path("data/demo"), seed=0)) == TABLE5
    assert _digests(seed_context(default, Path("data/demo"), 0)) == TABLE5
    seed_1 = _digests(seed_context(default, Path("data/demo"), 1))
    other_root = _digests(replace(default, data_root=Path("data/other")))
    ran = {d for ds in TABLE5.values() for d in ds}
    assert not ran & {d for ds in seed_1.values() for d in ds}
    assert not ran & {d for ds in other_root.values() for d in ds}


def test_world_root_is_the_root_for_seed_0_and_beside_it_otherwise() -> None:
    assert world_root(Path("data/demo"), 0) == Path("data/demo")
    assert world_root(Path("data/demo"), 2) == Path("data/demo-seed2")


def test_each_seeds_stage_commands_read_its_world_and_backbone_with_seed_42_plus_s(
        stages: Path, tmp_path: Path, tiny_backbone_dir: Path) -> None:
    context = Context("demo", "demo_qa", str(tiny_backbone_dir), stages, tmp_path / "c", tmp_path / "r",
                      (write_tiny_overlay(tmp_path / "tiny.yaml"),))
    root = tmp_path / "world"
    experiment = load_experiment("table5", stages / "experiments")
    for seed, world in ((0, root), (3, tmp_path / "world-seed3")):
        runs = plan_cells(experiment, seed_context(context, root, seed))[-1].runs
        assert [run.stage for run in runs] == ["pretrain_localizer", "refine_localizer", "evaluate"]
        for run, data in zip(runs, ("moments", "qa", "qa")):
            argv = run.argv(context.feature_cache)
            assert argv.index("--model.init_args.backbone=" + str(world / "backbone")) > argv.index(str(stages /
                                                                                                       "profiles" / "demo.yaml"))
            assert f"--data.init_args.annotation_dir={world / data}" in argv
            assert f"--data.init_args.video_dir={world / 'videos'}" in argv
            assert f"--seed_everything={42 + seed}" in argv
            assert run.tree["data"]["init_args"]["annotation_dir"] == str(world / data)


def test_dry_run_with_seeds_lists_each_seeds_world_then_its_cells(stages: Path, tmp_path: Path,
                                                                   tiny_backbone_dir: Path, capsys) -> None:
    args = experiment_args(tmp_path, stages, tiny_backbone_dir, write_tiny_overlay(tmp_path / "tiny.yaml"))
    root = tmp_path / "world"
    assert sevila_main(["experiment", "table7", "--dry-run", "--cells", "n=16 k=1", "--seeds", "0", "1",
                        "--data-root", str(root), *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" /")[0] for line in lines] == [
        "seed 0: demo-data: to run", "seed 0: demo-backbone: to run",
        "[1/1] table7 seed 0 n=16 k=1: to run", "    pretrain_localizer: to run", "    evaluate: to run",
        "seed 1: demo-data: to run", "seed 1: demo-backbone: to run",
        "[1/1] table7 seed 1 n=16 k=1: to run", "    pretrain_localizer: to run", "    evaluate: to run"]
    assert lines[0].endswith(f" {root}") and lines[5].endswith(f" {tmp_path / 'world-seed1'}")
    assert lines[3].split(" to run ")[1] != lines[8].split(" to run ")[1]
    assert not root.exists() and not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--seeds", "0", "1", "--profile", "paper"],
     "--seeds: only for the demo profile (its synthetic worlds); the paper profile runs on its prepared data: remove it"),
    (["--data-root", "{tmp}/nowhere"], "--data-root {tmp}/nowhere: no {tmp}/nowhere/qa/; give a folder "
                                       "`sevila demo-data --output DIR` wrote"),
    (["--backbone-steps", "2"], "--backbone-steps: only with --seeds (it builds each seed's backbone); remove it"),
])
def test_bad_seed_and_root_flags_are_one_line_and_exit_2(argv: list[str], expected: str, stages: Path,
                                                         tmp_path: Path, tiny_backbone_dir: Path, capsys) -> None:
    args = experiment_args(tmp_path, stages, tiny_backbone_dir, write_tiny_overlay(tmp_path / "tiny.yaml"))
    argv = [part.replace("{tmp}", str(tmp_path)) for part in argv]
    assert sevila_main(["experiment", "table5", *argv, *args]) == 2
    assert capsys.readouterr().err == f"sevila experiment: error: {expected.replace('{tmp}', str(tmp_path))}\n"
    assert not (tmp_path / "checkpoints").exists()
