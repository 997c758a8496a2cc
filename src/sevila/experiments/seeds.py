"""`--seeds`: one demo world per seed (its data and its backbone), built by `sevila demo-data` and `demo-backbone`.

Seed 0 is the root itself (data/demo, what `make demo` builds, or --data-root); seed s > 0 is the folder beside it,
`<root>-seed<s>` (data/demo-seed1, ...), so the seeds' worlds never mix with each other or with the root's files.
A world is complete when its `complete` marker names its seed (its size is kept as it was built), a backbone when
its `pretraining.json` is there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sevila.demo.cli import backbone_complete
from sevila.errors import SevilaError
from sevila.experiments.plan import Context

COMPLETE_DATA = "complete"  # written last by `sevila demo-data`


def world_root(root: Path, seed: int) -> Path:
    """Where seed `seed`'s world lives: the root for seed 0, `<root>-seed<s>` beside it otherwise."""
    return root if seed == 0 else root.parent / f"{root.name}-seed{seed}"


def seed_context(context: Context, root: Path, seed: int) -> Context:
    """The context of one seed: its world's data and backbone, and seed_everything 42 + seed."""
    world = world_root(root, seed)
    return replace(context, backbone=str(world / "backbone"), data_root=world, seed=seed)


def world_seed(world: Path) -> int | None:
    """The seed of the complete demo world in `world` (any size: `demo-data --train-videos` may have shrunk it)."""
    marker = world / COMPLETE_DATA
    return json.loads(marker.read_text(encoding="utf-8"))["settings"]["seed"] if marker.is_file() else None


def world_steps(world: Path, seed: int, backbone_steps: int | None) -> list[tuple[str, list[str], bool]]:
    """The two commands that build a world, each with whether it is complete already."""
    backbone = ["demo-backbone", "--output", str(world / "backbone"), "--seed", str(seed)]
    backbone += ["--steps", str(backbone_steps)] if backbone_steps is not None else []
    return [("demo-data", ["demo-data", "--output", str(world), "--seed", str(seed)],
             world_seed(world) == seed),
            ("demo-backbone", backbone, backbone_complete(world / "backbone"))]


def build_world(world: Path, seed: int, backbone_steps: int | None, echo: Callable[[str], None]) -> None:
    """Run `demo-data` and `demo-backbone` for one seed, each skipped when its folder is complete."""
    for name, argv, complete in world_steps(world, seed, backbone_steps):
        head = f"seed {seed}: {name}"
        if complete:
            echo(f"{head} ... finished before ({world})")
            continue
        echo(f"{head} ... running into {world}")
        world.mkdir(parents=True, exist_ok=True)
        with open(world / "log.txt", "a", encoding="utf-8") as log:
            log.write(f"$ sevila {' '.join(argv)}\n")
            log.flush()
            code = subprocess.run([sys.executable, "-m", "sevila.cli", *argv], stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL).returncode
        if code != 0:
            raise SevilaError(f"seed {seed}: sevila {name} failed (exit {code}); its output: "
                              f"{world / 'log.txt'}")
        echo(f"{head} ... done")


def world_lines(root: Path, seeds: tuple[int, ...]) -> list[str]:
    """What `--dry-run` prints per seed before its cells: its world's two steps, built or to build."""
    lines = []
    for seed in seeds:
        world = world_root(root, seed)
        lines += [f"seed {seed}: {name}: {'done' if complete else 'to run'} {world}"
                  for name, _, complete in world_steps(world, seed, None)]
    return lines
