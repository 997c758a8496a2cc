"""The experiment's table over `--seeds`: per cell (or comparison) the mean ± SE of each measure over the seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sevila.experiments.stats import mean_se

SE = " SE"  # a measure's standard error column: "<measure> SE"


def aggregate(rows_by_seed: Mapping[int, list[dict[str, Any]]], key: str, fixed: Sequence[str],
              measures: Sequence[str], per_seed: str) -> list[dict[str, Any]]:
    """One row per `key` value (in first-seen order): its `fixed` columns, the number of seeds, each measure's
    mean and SE over the seeds that have it, and `per_seed`'s value of each seed."""
    names = list(dict.fromkeys(row[key] for rows in rows_by_seed.values() for row in rows))
    table = []
    for name in names:
        found = {seed: row for seed, rows in rows_by_seed.items() for row in rows if row[key] == name}
        first = next(iter(found.values()))
        row: dict[str, Any] = {column: first.get(column) for column in (key, *fixed)}
        evaluated = {seed: r for seed, r in found.items() if r.get(per_seed) is not None}
        row["seeds"] = len(evaluated)
        for measure in measures:
            values = [float(r[measure]) for r in evaluated.values() if r.get(measure) is not None]
            row[measure], row[measure + SE] = mean_se(values) if values else (None, None)
        row |= {f"{per_seed} seed {seed}": r[per_seed] for seed, r in evaluated.items()}
        table.append(row)
    return table


def with_se(rows: list[dict[str, Any]], text: Any) -> list[dict[str, Any]]:
    """The rows as table.md shows them: each measure and its SE column as one 'mean ± SE' text."""
    shown = []
    for row in rows:
        out = {}
        for column, value in row.items():
            if column.endswith(SE) and column[: -len(SE)] in row:
                continue
            se = row.get(column + SE)
            out[column] = f"{text(value)} ± {text(se)}" if se is not None and value is not None else value
        shown.append(out)
    return shown
