"""An experiment resolved against a context: every cell's stage runs planned, settings checked, nothing run."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from sevila.errors import SevilaError
from sevila.experiments.plan import Context, StageRun, context_settings, merged, plan_run
from sevila.experiments.settings_check import check_settings
from sevila.experiments.spec import CellSpec, Experiment


@dataclass(frozen=True)
class Cell:
    """One table row: its spec and its planned stage runs, dependencies first, the evaluation last."""

    spec: CellSpec
    runs: tuple[StageRun, ...]

    @property
    def evaluation(self) -> StageRun:
        """The run whose metrics.json is the row."""
        return self.runs[-1]


def plan_cells(experiment: Experiment, context: Context, pattern: str | None = None) -> tuple[Cell, ...]:
    """Plan the cells whose setting matches `pattern` (shell-style, e.g. 'n=32*'; none = all)."""
    chosen = [c for c in experiment.cells if pattern is None or fnmatch.fnmatchcase(c.setting, pattern)]
    if not chosen:
        settings = "; ".join(c.setting for c in experiment.cells)
        raise SevilaError(f"--cells {pattern!r} matches no cell of {experiment.name}; its cells: {settings}")
    cells = []
    for spec in chosen:
        planned: dict[str, StageRun] = {}
        for run in spec.runs:
            where = f"{experiment.path}: cell {spec.setting!r}: run {run.name!r}"
            stage_run = plan_run(run, context, {key: planned[name] for key, name in run.inputs.items()})
            check_settings(where, run.settings, stage_run.tree)
            planned[run.name] = stage_run
        cells.append(Cell(spec, tuple(planned[run.name] for run in spec.runs)))
    return tuple(cells)


def check_inputs_exist(context: Context) -> None:
    """Before any work: the profile's data and backbone are there (the demo's come from `make demo`)."""
    wanted = [Path(context.backbone)] if context.profile == "demo" or Path(context.backbone).exists() else []
    for data in {context.dataset, context.trained_on, context.moments}:
        tree = merged((context.stages / "data" / f"{data}.yaml", *context.extra_configs),
                      context_settings(context, data))
        folder = (tree.get("data") or {}).get("init_args", {}).get("annotation_dir")
        wanted += [Path(folder)] if folder else []
    for path in wanted:
        if not path.exists():
            fix = "run `make demo` first (it builds the demo data and backbone)" if context.profile == "demo" else \
                "prepare the data first (`sevila prepare`, README) or pass --dataset"
            raise SevilaError(f"{path}: not found; {fix}")
