"""An experiment's results: table.md, table.csv and table.png in `<results>/experiments/<name>/`.

One row per cell: accuracy overall and per question type (the evaluation's metrics.json), the keyframe hit rate
where the data has event windows (`event_windows.json` beside the annotation folder, as the demo writes it),
the evaluation's folder, and the paper's number for the dataset (the demo profile shows NExT-QA's).
With `compare:` in the experiment, a second table (also compare.csv) and compare.png: per comparison the paired
difference in Acc and the pseudo-labels' precision and recall (`sevila.experiments.compare`).
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sevila.charts import Point, bar_chart, save_figure, scatter_panels
from sevila.demo.report import keyframe_hit_rate
from sevila.experiments.aggregate import SE, with_se
from sevila.experiments.compare import PRECISION, RECALL, comparison_rows, scored_split
from sevila.experiments.grid import Cell
from sevila.experiments.plan import Context
from sevila.experiments.spec import Experiment
from sevila.io import atomic_open

HIT_RATE = "keyframe hit rate"


def paper_dataset(context: Context) -> str:
    """Whose paper numbers the table shows: the dataset's, or NExT-QA's for the synthetic demo."""
    return context.dataset if context.profile == "paper" else "nextqa"


def _hit_rate(cell: Cell, predictions: list[dict[str, Any]]) -> float | None:
    """Percent of keyframes inside the event window, where the data has windows; None otherwise."""
    scored = scored_split(cell.evaluation, "test_file", "val.json") if predictions else None
    return keyframe_hit_rate(predictions, *scored) if scored else None


def cell_row(cell: Cell, context: Context) -> dict[str, Any]:
    """One table row; a cell not yet evaluated has only its setting, folder and paper number."""
    folder = cell.evaluation.folder
    row: dict[str, Any] = {"setting": cell.spec.setting}
    if (folder / "metrics.json").is_file():
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        predictions = json.loads((folder / "predictions.json").read_text(encoding="utf-8"))
        row |= {key: value for key, value in metrics.items() if key == "Acc" or key.startswith("Acc_")}
        row[HIT_RATE] = _hit_rate(cell, predictions)
    row["run folder"] = str(folder)
    row[f"paper ({paper_dataset(context)})"] = cell.spec.paper.get(paper_dataset(context))
    return row


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    tail = [c for c in columns if c == "run folder" or c.startswith("paper")]
    return [c for c in columns if c not in tail] + tail


def _text(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _markdown_table(rows: list[dict[str, Any]]) -> list[str]:
    shown = with_se(rows, _text)
    columns = _columns(shown)
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(_text(row.get(c)) for c in columns) + " |" for row in shown)]


def markdown(experiment: Experiment, context: Context, rows: list[dict[str, Any]],
             comparisons: list[dict[str, Any]] | None = None, note: str = "") -> str:
    """table.md: the title, what ran, the table (and the comparisons), and where the paper's numbers come from."""
    world = "the synthetic demo world (not the paper's data)" if context.profile == "demo" else context.dataset
    lines = [f"# {experiment.title}", "", f"Profile {context.profile}, dataset {context.dataset}: {world}.", ""]
    lines += [note, ""] if note else []
    lines += _markdown_table(rows)
    if comparisons:
        spread = "over the seeds" if note else "paired, over the questions"
        lines += ["", "## Comparisons", "", f"Difference: other - base in Acc (points) ± its standard error ({spread}).",
                  ""]
        lines += _markdown_table(comparisons)
    source = experiment.paper_source or "no paper numbers"
    lines += ["", f"Paper numbers: {source}. An empty paper cell: no number found for it.", ""]
    return "\n".join(lines)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = _columns(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: _text(row.get(c)) for c in columns} for row in rows)
    with atomic_open(path) as handle:
        handle.write(text.getvalue())


def write_tables(folder: Path, experiment: Experiment, context: Context, rows: list[dict[str, Any]],
                 comparisons: list[dict[str, Any]], note: str = "") -> Path:
    """Write table.md, table.csv and table.png (and compare.csv, compare.png when there are comparisons)."""
    with atomic_open(folder / "table.md") as handle:
        handle.write(markdown(experiment, context, rows, comparisons, note))
    _write_csv(folder / "table.csv", rows)
    save_figure(_chart(experiment, rows), folder / "table.png")
    if comparisons:
        _write_csv(folder / "compare.csv", comparisons)
        save_figure(compare_chart(experiment, comparisons), folder / "compare.png")
    return folder


def write_table(experiment: Experiment, cells: tuple[Cell, ...], context: Context, folder: Path | None = None) -> Path:
    """The table of one run of the cells (one seed) into `folder` (default `<results>/experiments/<name>/`)."""
    folder = folder or context.results / "experiments" / experiment.name
    rows = [cell_row(cell, context) for cell in cells]
    return write_tables(folder, experiment, context, rows, comparison_rows(experiment.comparisons, cells))


def compare_chart(experiment: Experiment, rows: list[dict[str, Any]]) -> Any:
    """compare.png: x = the base cell's Acc; y = the difference, and the pseudo-labels' precision and recall."""
    panels: dict[str, list[Point]] = {}
    for measure in ("difference", PRECISION, RECALL):
        points = [(row["comparison"], float(row["base Acc"]), float(row[measure]), row.get(measure + SE))
                  for row in rows if row.get(measure) is not None and row.get("base Acc") is not None]
        if points:
            panels[measure if measure != "difference" else "difference in Acc (other - base)"] = points
    return scatter_panels(panels, "base Acc", f"{experiment.title}: comparisons")


def _chart(experiment: Experiment, rows: list[dict[str, Any]]) -> Any:
    """Accuracy (and hit rate, and the paper's number where known) per cell, labels turned to fit."""
    values: dict[str, Mapping[str, float]] = {}
    for row in rows:
        bars = {"accuracy": row.get("Acc"), HIT_RATE: row.get(HIT_RATE)}
        bars |= {key: value for key, value in row.items() if key.startswith("paper")}
        values[row["setting"]] = {key: float(value) for key, value in bars.items() if value is not None}
    figure = bar_chart(values, experiment.title)
    figure.set_size_inches(max(7.0, 1.1 * len(values)), 4.5)
    figure.axes[0].set_title(textwrap.fill(experiment.title, 90), fontsize=9)
    for label in figure.axes[0].get_xticklabels():
        label.set_rotation(20)
        label.set_horizontalalignment("right")
    return figure
