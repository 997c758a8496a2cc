"""An experiment file (stages/experiments/<name>.yaml): named stage runs and the cells that chain them.

```yaml
title: "Table 7: n candidate frames -> k keyframes"
paper_source: "where the paper's numbers come from"
runs:                      # stage runs any cell may name; a cell may add its own under `runs:`
  localizer: {stage: pretrain_localizer}
  answerer: {stage: finetune_answerer, init_localizer: localizer, set: {model.init_args.num_keyframes: 4}}
cells:
  - setting: "n=32 k=4"
    evaluate: {init_localizer: localizer, init_answerer: answerer, set: {data.init_args.num_frames: 32}}
    paper: {nextqa: 73.8}  # the paper's accuracy per dataset; leave a dataset out where it is not known
compare:                   # optional paired comparisons of two cells (other - base), by their settings
  - {label: "k=1 -> k=4", base: "n=32 k=1", other: "n=32 k=4"}
```
`init_localizer` / `init_answerer` name another run (its exported heads start this one); absent = BLIP-2's Q-Former.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sevila.errors import SevilaError

STAGES = ("pretrain_localizer", "finetune_answerer", "refine_localizer", "evaluate")
INPUTS = ("init_localizer", "init_answerer")
TOP_KEYS = ("title", "paper_source", "runs", "cells", "compare")
COMPARE_KEYS = ("label", "base", "other")
RUN_KEYS = ("stage", "set", *INPUTS)
CELL_KEYS = ("setting", "runs", "evaluate", "paper")


@dataclass(frozen=True)
class RunSpec:
    """One stage run as the file states it: the stage, its settings, and the runs whose heads it starts from."""

    name: str
    stage: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CellSpec:
    """One table row: an evaluation and, in order, the stage runs it needs."""

    setting: str
    runs: tuple[RunSpec, ...]  # dependencies first; the last one is the evaluation
    paper: Mapping[str, float]


@dataclass(frozen=True)
class Comparison:
    """A paired comparison: cell `other` minus cell `base`, question by question (their settings)."""

    label: str
    base: str
    other: str


@dataclass(frozen=True)
class Experiment:
    """A named grid of cells, and the comparisons of pairs of them."""

    name: str
    path: Path
    title: str
    paper_source: str
    cells: tuple[CellSpec, ...]
    comparisons: tuple[Comparison, ...] = ()


def _mapping(value: Any, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """`value` as a mapping whose keys are all in `allowed`; one-line errors otherwise."""
    if not isinstance(value, Mapping):
        raise SevilaError(f"{where}: expected a mapping with keys {', '.join(allowed)}, got {type(value).__name__}")
    unknown = [str(key) for key in value if key not in allowed]
    if unknown:
        raise SevilaError(f"{where}: unknown key {unknown[0]!r}; expected one of {', '.join(allowed)}")
    return value


def _run(name: str, value: Any, where: str, stage: str | None = None) -> RunSpec:
    """Parse one run (or a cell's `evaluate`, whose stage is fixed)."""
    body = _mapping(value if value is not None else {}, where, RUN_KEYS if stage is None else RUN_KEYS[1:])
    stage = stage or body.get("stage")
    if stage not in STAGES:
        raise SevilaError(f"{where}.stage: {stage!r} is not a stage; expected one of {', '.join(STAGES)}")
    settings = body.get("set") or {}
    if not isinstance(settings, Mapping) or not all(isinstance(key, str) for key in settings):
        raise SevilaError(f"{where}.set: expected a mapping of settings such as 'model.init_args.num_keyframes: 4'")
    inputs = {key: body[key] for key in INPUTS if body.get(key) is not None}
    for key, other in inputs.items():
        if not isinstance(other, str):
            raise SevilaError(f"{where}.{key}: expected the name of a run, got {other!r}")
    return RunSpec(name, stage, dict(settings), inputs)


def _order(cell: str, target: RunSpec, runs: Mapping[str, RunSpec], where: str) -> tuple[RunSpec, ...]:
    """`target` and the runs it needs, dependencies first; unknown names and cycles are one-line errors."""
    ordered: list[RunSpec] = []

    def visit(run: RunSpec, path: tuple[str, ...]) -> None:
        for key, name in run.inputs.items():
            if name in path:
                raise SevilaError(f"{where}: cell {cell!r}: runs {' -> '.join((*path, name))} form a cycle")
            if name not in runs:
                raise SevilaError(f"{where}: cell {cell!r}: {run.name}.{key} names {name!r}, which is no run; "
                                  f"known runs: {', '.join(runs) or 'none'}")
            visit(runs[name], (*path, name))
        if run not in ordered:
            ordered.append(run)

    visit(target, (target.name,))
    return tuple(ordered)


def _paper(value: Any, where: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise SevilaError(f"{where}.paper: expected dataset: number pairs such as 'nextqa: 73.8', got {value!r}")
    return {str(key): float(number) for key, number in value.items()}


def parse_experiment(name: str, path: Path, tree: Any) -> Experiment:
    """Check and resolve one experiment file's contents."""
    where = str(path)
    top = _mapping(tree, where, TOP_KEYS)
    shared_runs = _mapping(top.get("runs") or {}, f"{where}: runs", tuple(top.get("runs") or {}))
    shared = {key: _run(key, body, f"{where}: runs.{key}") for key, body in shared_runs.items()}
    cells_value = top.get("cells")
    if not isinstance(cells_value, list) or not cells_value:
        raise SevilaError(f"{where}: cells: expected a non-empty list of cells")
    cells, seen = [], set()
    for index, body in enumerate(cells_value):
        here = f"{where}: cells[{index}]"
        body = _mapping(body, here, CELL_KEYS)
        setting = body.get("setting")
        if not isinstance(setting, str) or not setting.strip() or setting in seen:
            raise SevilaError(f"{here}.setting: expected a unique non-empty name, got {setting!r}")
        seen.add(setting)
        own_value = _mapping(body.get("runs") or {}, f"{here}.runs", tuple(body.get("runs") or {}))
        own = {key: _run(key, run, f"{here}.runs.{key}") for key, run in own_value.items()}
        evaluate = _run("evaluate", body.get("evaluate"), f"{here}.evaluate", stage="evaluate")
        runs = {**shared, **own}
        cells.append(CellSpec(setting, _order(setting, evaluate, runs, where), _paper(body.get("paper"), here)))
    comparisons = _comparisons(top.get("compare"), where, tuple(cell.setting for cell in cells))
    return Experiment(name, path, str(top.get("title") or name), str(top.get("paper_source") or ""), tuple(cells),
                      comparisons)


def _comparisons(value: Any, where: str, settings: tuple[str, ...]) -> tuple[Comparison, ...]:
    """The `compare:` list; every base and other must be a cell's setting."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SevilaError(f"{where}: compare: expected a list of {{label, base, other}}, got {type(value).__name__}")
    comparisons = []
    for index, body in enumerate(value):
        here = f"{where}: compare[{index}]"
        body = _mapping(body, here, COMPARE_KEYS)
        for key in COMPARE_KEYS:
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise SevilaError(f"{here}.{key}: expected a non-empty string, got {body.get(key)!r}")
        for key in ("base", "other"):
            if body[key] not in settings:
                raise SevilaError(f"{here}.{key}: {body[key]!r} is no cell's setting; cells: {'; '.join(settings)}")
        comparisons.append(Comparison(body["label"], body["base"], body["other"]))
    return tuple(comparisons)


def load_experiment(name_or_file: str, folder: Path) -> Experiment:
    """An experiment by name (`folder/<name>.yaml`) or by file path."""
    path = Path(name_or_file)
    if path.suffix not in (".yaml", ".yml"):
        path = folder / f"{name_or_file}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.yaml"))
            raise SevilaError(f"unknown experiment {name_or_file!r}; known: {', '.join(known) or 'none'} "
                              f"(in {folder}), or give a YAML file")
    if not path.is_file():
        raise SevilaError(f"{path}: no such experiment file; check the path")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SevilaError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    return parse_experiment(path.stem, path, tree)
