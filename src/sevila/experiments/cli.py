"""`sevila experiment NAME|FILE.yaml`: run one of the paper's experiments (stages/experiments/) into a table."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path

from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError
from sevila.experiments.grid import check_inputs_exist, plan_cells
from sevila.experiments.over_seeds import dry_run_seeds, run_seeds
from sevila.experiments.plan import BACKBONES, DATASETS, Context
from sevila.experiments.runner import dry_run_lines, run_cells
from sevila.experiments.spec import Experiment, load_experiment
from sevila.experiments.table import write_table

DEMO_ROOT = Path("data/demo")  # seed 0's world without --data-root: what `make demo` builds


def parser() -> OneLineParser:
    """The verb's flags."""
    p = OneLineParser(prog="sevila experiment", description=__doc__)
    p.add_argument("experiment", help="an experiment name (stages/experiments/<name>.yaml) or a YAML file")
    p.add_argument("--profile", choices=("demo", "paper"), default="demo", help="stages/profiles/<profile>.yaml")
    p.add_argument("--dataset", help="QA data (stages/data/<dataset>.yaml); default demo_qa (demo), nextqa (paper)")
    p.add_argument("--dry-run", action="store_true", help="list the cells and their stage runs, done or to run")
    p.add_argument("--cells", help="run only the cells whose setting matches this shell pattern, e.g. 'n=32*'")
    p.add_argument("--backbone", help="BLIP-2 hub name or folder; default the profile's (as the Makefile)")
    p.add_argument("--stages", type=Path, default=Path("stages"), help="the folder of the stage YAMLs")
    p.add_argument("--checkpoints", type=Path, help="stage runs go under DIR/experiments; default checkpoints/PROFILE")
    p.add_argument("--results", type=Path, help="tables go under DIR/experiments; default results/PROFILE")
    p.add_argument("--config", type=Path, action="append", default=[],
                   help="one more config layer for every stage run, after the profile (repeatable)")
    p.add_argument("--data-root", type=Path,
                   help="demo profile: a world of `sevila demo-data --output DIR` (DIR/qa, moments, videos) instead "
                        "of data/demo; with --seeds the root of the seeds' worlds")
    p.add_argument("--seeds", type=int, nargs="+",
                   help="demo profile: run every cell once per seed, seed s on its own world (the root for s = 0, "
                        "else <root>-seed<s>, built first) with seed_everything 42 + s; the table shows mean ± SE")
    p.add_argument("--backbone-steps", type=int,
                   help="with --seeds: optimizer steps of each world's `demo-backbone` (default its own; for tests)")
    return p


def main(argv: list[str]) -> int:
    """Plan (and check) every cell, then run the ones not finished and write the table."""
    args = parser().parse_args(argv)
    check_demo_flags(args)
    context = Context(
        profile=args.profile, dataset=args.dataset or DATASETS[args.profile],
        backbone=args.backbone or BACKBONES[args.profile], stages=args.stages,
        checkpoints=args.checkpoints or Path("checkpoints") / args.profile,
        results=args.results or Path("results") / args.profile, extra_configs=tuple(args.config),
        data_root=args.data_root if not args.seeds else None,
    )
    experiment = load_experiment(args.experiment, args.stages / "experiments")
    for extra in context.extra_configs:
        if not extra.is_file():
            raise SevilaError(f"--config {extra}: no such file; check the path")
    if not (args.stages / "data" / f"{context.dataset}.yaml").is_file():
        known = ", ".join(sorted(path.stem for path in (args.stages / "data").glob("*.yaml")))
        raise SevilaError(f"--dataset {context.dataset}: no {args.stages / 'data'}/{context.dataset}.yaml; "
                          f"known: {known}")
    if args.seeds:
        return _main_seeds(args, experiment, context)
    check_inputs_exist(context)
    cells = plan_cells(experiment, context, args.cells)
    if args.dry_run:
        print("\n".join(dry_run_lines(experiment.name, cells)), flush=True)
        return 0
    start = time.monotonic()
    run_cells(experiment.name, cells, context, lambda line: print(line, flush=True))
    folder = write_table(experiment, cells, context)
    print(f"{experiment.name}: {len(cells)} cells in {time.monotonic() - start:.0f} s -> {folder}/table.md", flush=True)
    return 0


def check_demo_flags(args: Namespace) -> None:
    """--seeds and --data-root are the demo world's; a --data-root to read must hold a demo world."""
    for flag, value in (("--seeds", args.seeds), ("--data-root", args.data_root), ("--backbone-steps",
                                                                               args.backbone_steps)):
        if value is not None and args.profile != "demo":
            raise SevilaError(f"{flag}: only for the demo profile (its synthetic worlds); the {args.profile} profile "
                              "runs on its prepared data: remove it")
    if args.backbone_steps is not None and not args.seeds:
        raise SevilaError("--backbone-steps: only with --seeds (it builds each seed's backbone); remove it")
    if args.data_root is not None and not args.seeds:
        missing = [name for name in ("qa", "moments", "videos") if not (args.data_root / name).is_dir()]
        if missing:
            raise SevilaError(f"--data-root {args.data_root}: no {args.data_root / missing[0]}/; give a folder "
                              "`sevila demo-data --output DIR` wrote")


def _main_seeds(args: Namespace, experiment: Experiment, context: Context) -> int:
    """The cells once per seed, then the table over the seeds."""
    seeds = tuple(dict.fromkeys(args.seeds))
    root = args.data_root or DEMO_ROOT
    if args.dry_run:
        print("\n".join(dry_run_seeds(experiment, context, root, seeds, args.cells)), flush=True)
        return 0
    start = time.monotonic()
    folder, count = run_seeds(experiment, context, root, seeds, args.cells, args.backbone_steps,
                              lambda line: print(line, flush=True))
    print(f"{experiment.name}: {count} cells over seeds {' '.join(map(str, seeds))} in "
          f"{time.monotonic() - start:.0f} s -> {folder}/table.md", flush=True)
    return 0
