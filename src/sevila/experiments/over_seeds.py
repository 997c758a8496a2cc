"""`sevila experiment --seeds S ...`: the cells once per seed's world, a table per seed, and their mean ± SE."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sevila.experiments.aggregate import aggregate
from sevila.experiments.compare import PRECISION, RECALL, comparison_rows
from sevila.experiments.grid import Cell, plan_cells
from sevila.experiments.plan import Context
from sevila.experiments.runner import dry_run_lines, run_cells
from sevila.experiments.seeds import build_world, seed_context, world_lines, world_root
from sevila.experiments.spec import Experiment
from sevila.experiments.table import HIT_RATE, cell_row, write_table, write_tables

CELL_MEASURES = ("Acc", HIT_RATE)
COMPARE_MEASURES = ("base Acc", "difference", PRECISION, RECALL)


def dry_run_seeds(experiment: Experiment, context: Context, root: Path, seeds: tuple[int, ...],
                  pattern: str | None) -> list[str]:
    """Per seed its world's steps and its cells (a world not built yet plans without its annotation files)."""
    lines = []
    for seed in seeds:
        cells = plan_cells(experiment, seed_context(context, root, seed), pattern)
        lines += world_lines(root, (seed,)) + dry_run_lines(f"{experiment.name} seed {seed}", cells)
    return lines


def run_seeds(experiment: Experiment, context: Context, root: Path, seeds: tuple[int, ...], pattern: str | None,
              backbone_steps: int | None, echo: Callable[[str], None]) -> tuple[Path, int]:
    """Build each seed's world, run its cells, write its seed-<s>/ tables, then the table over the seeds."""
    folder = context.results / "experiments" / experiment.name
    cells_by_seed: dict[int, tuple[Cell, ...]] = {}
    for seed in seeds:
        build_world(world_root(root, seed), seed, backbone_steps, echo)
        here = seed_context(context, root, seed)
        cells_by_seed[seed] = plan_cells(experiment, here, pattern)
        run_cells(f"{experiment.name} seed {seed}", cells_by_seed[seed], here, echo)
        write_table(experiment, cells_by_seed[seed], here, folder / f"seed-{seed}")
    write_seed_table(experiment, context, cells_by_seed, folder)
    return folder, sum(len(cells) for cells in cells_by_seed.values())


def write_seed_table(experiment: Experiment, context: Context, cells_by_seed: dict[int, tuple[Cell, ...]],
                     folder: Path) -> Path:
    """table.md/csv/png (and compare.*) of mean ± SE over the seeds, from each seed's cells."""
    rows = {seed: [cell_row(cell, context) for cell in cells] for seed, cells in cells_by_seed.items()}
    paper = [key for seed_rows in rows.values() for row in seed_rows for key in row if key.startswith("paper")]
    table = aggregate(rows, "setting", tuple(dict.fromkeys(paper)), CELL_MEASURES, "Acc")
    compared = {seed: comparison_rows(experiment.comparisons, cells) for seed, cells in cells_by_seed.items()}
    comparisons = aggregate(compared, "comparison", ("base", "other"), COMPARE_MEASURES, "difference")
    note = (f"Over seeds {', '.join(map(str, cells_by_seed))}: mean ± standard error (sample standard deviation / "
            "sqrt(n), n = seeds); each seed's own table is in seed-<s>/.")
    return write_tables(folder, experiment, context, table, comparisons, note)

