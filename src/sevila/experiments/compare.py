"""The `compare:` rows of an experiment: per pair of cells the paired accuracy difference, and where `other`
refines its Localizer on data with event windows, how right that run's pseudo-labels are."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sevila.data.annotations import read_qa_annotations
from sevila.demo.report import pseudo_label_summary
from sevila.experiments.grid import Cell
from sevila.experiments.plan import StageRun
from sevila.experiments.spec import Comparison
from sevila.experiments.stats import paired_difference
from sevila.model.pseudo_label_rules import label_folder

PRECISION, RECALL = "pseudo-label precision", "pseudo-label recall"


def _predictions(cell: Cell) -> list[dict[str, Any]] | None:
    path = cell.evaluation.folder / "predictions.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _accuracy(cell: Cell) -> float:
    return float(json.loads((cell.evaluation.folder / "metrics.json").read_text(encoding="utf-8"))["Acc"])


def scored_split(run: StageRun, split: str, default: str) -> tuple[dict[str, str], dict[str, Any]] | None:
    """qid -> video of the run's `split` file (`train_file`, `test_file`) and the event windows beside its annotation
    folder (`event_windows.json`, as the demo writes it); None where the data has no windows."""
    data = run.tree["data"]["init_args"]
    folder = Path(data["annotation_dir"])
    windows_file = folder.parent / "event_windows.json"
    if not windows_file.is_file():
        return None
    records = read_qa_annotations(folder / data.get(split, default))
    return {r.qid: r.video for r in records}, json.loads(windows_file.read_text(encoding="utf-8"))


def pseudo_labels(run: StageRun) -> dict[str, float] | None:
    """Precision and recall of a refinement run's pseudo-labels against the event windows; None without windows."""
    model = run.tree["model"].get("init_args") or {}
    labels = label_folder(run.folder / "pseudo_labels", model.get("pseudo_label_rule", "paper"),
                          model.get("pseudo_label_threshold", 0.5))  # a gated rule's labels: their own subfolder
    scored = scored_split(run, "train_file", "train.json") if labels.is_dir() else None
    if scored is None:
        return None
    summary = pseudo_label_summary(labels, *scored)
    return {PRECISION: summary["pseudo_label_precision"], RECALL: summary["pseudo_label_recall"]}


def comparison_row(comparison: Comparison, cells: Mapping[str, Cell]) -> dict[str, Any] | None:
    """One row of the comparisons table; None when either cell is not planned (--cells) or not evaluated yet."""
    base, other = cells.get(comparison.base), cells.get(comparison.other)
    if base is None or other is None:
        return None
    base_predictions, other_predictions = _predictions(base), _predictions(other)
    if base_predictions is None or other_predictions is None:
        return None
    where = f"compare {comparison.label!r} ({base.evaluation.folder} vs {other.evaluation.folder})"
    difference, se, count = paired_difference(base_predictions, other_predictions, where)
    row: dict[str, Any] = {"comparison": comparison.label, "base": comparison.base, "other": comparison.other,
                           "base Acc": _accuracy(base), "difference": difference, "difference SE": se,
                           "questions": count}
    refinements = [run for run in other.runs if run.stage == "refine_localizer"]
    row |= (pseudo_labels(refinements[-1]) or {}) if refinements else {}
    return row


def comparison_rows(comparisons: tuple[Comparison, ...], cells: tuple[Cell, ...]) -> list[dict[str, Any]]:
    """The comparisons table of one set of cells (one seed)."""
    by_setting = {cell.spec.setting: cell for cell in cells}
    rows = [comparison_row(comparison, by_setting) for comparison in comparisons]
    return [row for row in rows if row is not None]
