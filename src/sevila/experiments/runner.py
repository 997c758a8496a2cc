"""Run an experiment's cells: each stage run a `sevila fit|test` subprocess, skipped when it has finished.

A stage run is finished once `step.json` is in its folder (written after the command succeeded); an interrupted
fit is re-run with `--ckpt_path=last`, which resumes it from its last checkpoint (`sevila.stages.runs`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sevila.errors import SevilaError
from sevila.experiments.grid import Cell
from sevila.experiments.plan import Context, StageRun
from sevila.io import write_json

STEP_FILE = "step.json"
LOG_FILE = "log.txt"


def is_done(run: StageRun) -> bool:
    """Whether `run` finished: its step record is there and so is what it writes."""
    return (run.folder / STEP_FILE).is_file() and run.export.is_file()


def _finished_fit(run: StageRun) -> bool:
    """A fit that ended normally before the runner recorded it (killed in between): nothing to train again."""
    return run.verb == "fit" and run.export.is_file() and any(run.folder.glob("run-*/finished.json"))


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("sevila ") and ": error: " in line]
    return (errors or lines or ["no output"])[-1]


def run_stage(run: StageRun, context: Context) -> float:
    """Run one stage's command, its output appended to `<folder>/log.txt`; returns its seconds."""
    run.folder.mkdir(parents=True, exist_ok=True)
    argv = run.argv(context.feature_cache)
    start = time.monotonic()
    if not _finished_fit(run):
        with open(run.folder / LOG_FILE, "a", encoding="utf-8") as log:
            log.write(f"$ sevila {' '.join(argv)}\n")
            log.flush()
            code = subprocess.run([sys.executable, "-m", "sevila.cli", *argv], stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL).returncode
        if code != 0 or not run.export.is_file():
            raise SevilaError(f"{run.stage} failed (exit {code}) in {run.folder}: {_last_error(run.folder / LOG_FILE)} "
                              f"(full output: {run.folder / LOG_FILE}); fix it and run the experiment again")
    seconds = round(time.monotonic() - start, 1)
    write_json(run.folder / STEP_FILE, {"stage": run.stage, "digest": run.digest, "seconds": seconds,
                                        "inputs": {key: str(other.folder) for key, other in run.inputs.items()},
                                        "command": ["sevila", *argv]})
    return seconds


def run_cells(name: str, cells: tuple[Cell, ...], context: Context, echo: Callable[[str], None]) -> dict[str, float]:
    """Run every cell in order, one progress line per stage run; returns the seconds each cell took."""
    times = {}
    for index, cell in enumerate(cells, start=1):
        start = time.monotonic()
        for run in cell.runs:
            head = f"[{index}/{len(cells)}] {name} {cell.spec.setting}: {run.stage}"
            if is_done(run):
                echo(f"{head} ... finished before ({run.folder})")
                continue
            echo(f"{head} ... running in {run.folder}")
            echo(f"{head} ... done {run_stage(run, context):.0f} s")
        times[cell.spec.setting] = round(time.monotonic() - start, 1)
    return times


def dry_run_lines(name: str, cells: tuple[Cell, ...]) -> list[str]:
    """What `--dry-run` prints: every cell's stage runs, each done or to run, with its folder."""
    lines = []
    for index, cell in enumerate(cells, start=1):
        done = all(is_done(run) for run in cell.runs)
        lines.append(f"[{index}/{len(cells)}] {name} {cell.spec.setting}: {'done' if done else 'to run'}")
        lines += [f"    {run.stage}: {'done' if is_done(run) else 'to run'} {run.folder}" for run in cell.runs]
    return lines
