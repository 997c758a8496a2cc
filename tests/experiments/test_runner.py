"""A 2-cell grid on the tiny model runs to a table through real `sevila fit|test` subprocesses; killed mid-cell
(SIGKILL) it resumes to the same table; a re-run of a finished grid runs no stage at all."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from experiment_factory import experiment_args, write_tiny_overlay

from sevila.cli import main as sevila_main

GRID = {
    "title": "tiny grid",
    "paper_source": "made up for the test",
    "runs": {"answerer": {"stage": "finetune_answerer", "set": {"model.init_args.selection": "uniform"}}},
    "cells": [
        {"setting": "zero-shot", "evaluate": {"set": {"model.init_args.selection": "uniform"}}},
        {"setting": "fine-tuned", "evaluate": {"init_answerer": "answerer",
                                               "set": {"model.init_args.selection": "uniform"}},
         "paper": {"nextqa": 50.5}},
    ],
}
# 2 epochs of 3 steps with last.ckpt every 2 steps, so that a kill mid-fit leaves something to resume from
STEP_CHECKPOINTS = {"callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                                   "init_args": {"save_last": True, "save_top_k": 0, "every_n_train_steps": 2}}],
                    "max_epochs": 2}


def _command(root: Path, stages: Path, backbone: Path, *extra: str) -> list[str]:
    overlay = write_tiny_overlay(root.parent / f"{root.name}-tiny.yaml", trainer=STEP_CHECKPOINTS)
    return [sys.executable, "-m", "sevila.cli", "experiment", str(stages / "experiments" / "grid.yaml"),
            *experiment_args(root, stages, backbone, overlay), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _run(root: Path, stages: Path, backbone: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(root, stages, backbone, *extra), env=_env(), capture_output=True, text=True,
                          timeout=600, cwd=root.parent)


def _run_here(root: Path, stages: Path, backbone: Path, capsys, *extra: str) -> list[str]:
    """The grid run in this process (its stages still run as subprocesses); returns its stdout lines."""
    capsys.readouterr()
    code = sevila_main(_command(root, stages, backbone, *extra)[3:])
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    return out.splitlines()


def _table(root: Path) -> list[dict[str, str]]:
    """table.csv without the run folder (the two roots differ there)."""
    with open(root / "results" / "experiments" / "grid" / "table.csv", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k != "run folder"} for row in csv.DictReader(handle)]


def _kill_when_checkpointed(root: Path, stages: Path, backbone: Path) -> None:
    """Start the grid, SIGKILL its process group once the fine-tune has written its first last.ckpt."""
    process = subprocess.Popen(_command(root, stages, backbone), env=_env(), cwd=root.parent, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = root / "checkpoints" / "experiments" / "stages" / "finetune_answerer"
    deadline = time.monotonic() + 300
    while not list(folder.glob("*/run-*/checkpoints/last.ckpt")):
        assert process.poll() is None and time.monotonic() < deadline, "the fine-tune ended before a checkpoint"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_grid_runs_resumes_after_a_kill_to_the_same_table_and_skips_finished_cells(
    tmp_path: Path, stages: Path, tiny_backbone_dir: Path, capsys
) -> None:
    (stages / "experiments" / "grid.yaml").write_text(yaml.safe_dump(GRID))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir()
    killed.mkdir()
    lines = _run_here(whole, stages, tiny_backbone_dir, capsys)
    assert [line.split(" ... ")[0] for line in lines[:-1]] == [
        "[1/2] grid zero-shot: evaluate", "[1/2] grid zero-shot: evaluate",
        "[2/2] grid fine-tuned: finetune_answerer", "[2/2] grid fine-tuned: finetune_answerer",
        "[2/2] grid fine-tuned: evaluate", "[2/2] grid fine-tuned: evaluate"]
    assert lines[1].endswith(" s") and " ... done " in lines[1]
    table = _table(whole)
    assert [row["setting"] for row in table] == ["zero-shot", "fine-tuned"]
    assert [row["paper (nextqa)"] for row in table] == ["", "50.50"]
    assert [row["keyframe hit rate"] for row in table] == ["50.00", "50.00"]  # experiment_factory.EVENT_WINDOWS
    assert {"Acc", "Acc_Color", "Acc_Shape"} <= set(table[0])
    results = whole / "results" / "experiments" / "grid"
    assert (results / "table.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| zero-shot |" in (results / "table.md").read_text()

    _kill_when_checkpointed(killed, stages, tiny_backbone_dir)
    assert not (killed / "results").exists()
    resumed = _run(killed, stages, tiny_backbone_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.splitlines()[0].startswith("[1/2] grid zero-shot: evaluate ... finished before (")
    fit_log = next((killed / "checkpoints" / "experiments" / "stages" / "finetune_answerer").glob("*/log.txt"))
    assert "resuming the unfinished run in" in fit_log.read_text()
    assert _table(killed) == table

    steps = sorted((killed / "checkpoints" / "experiments" / "stages").glob("*/*/step.json"))
    assert len(steps) == 3
    before = [(path, path.stat().st_mtime_ns) for path in steps]
    again = _run_here(killed, stages, tiny_backbone_dir, capsys)
    assert [line.split(" ... ")[1].split(" (")[0] for line in again[:-1]] == ["finished before"] * 3
    assert [(path, path.stat().st_mtime_ns) for path in steps] == before
    assert _table(killed) == table

    listing = _run_here(killed, stages, tiny_backbone_dir, capsys, "--dry-run")
    assert [line.split(" /")[0] for line in listing] == [
        "[1/2] grid zero-shot: done", "    evaluate: done", "[2/2] grid fine-tuned: done",
        "    finetune_answerer: done", "    evaluate: done"]
