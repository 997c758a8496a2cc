"""Stage 3 on fixed frames against the original's random frames and crops, on the demo: accuracy and wall clock.

usage: python benchmarks/refine_frames.py [--modes fixed random random+dropout] [--repeat 2] [--output DIR]

Needs `make demo` (or its first stages) done: the demo data and backbone in data/demo and the stage-1 and stage-2
outputs in checkpoints/demo. Each mode runs `make refine` then `make eval`'s refined evaluation, as the Makefile
composes them (demo profile, same seed), into its own folder with its own cold feature cache, so every run pays for
its own ViT frames: `fixed` is the demo's stage 3 (4 segment midpoints, no crop, every epoch); `random` draws frames
within the segments and a crop every step, as the original (the paper profile's `random_train_frames: true`);
`random+dropout` also runs the frozen Answerer with dropout (`dropout: all`). Prints each mode's validation accuracy
of the refined chain, the pseudo-labels computed (Answerer frame evaluations), the fastest stage-3 wall clock of
`--repeat` interleaved rounds and its ratio to `fixed` measured in the same run (the numbers repeat exactly).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

MODES = {
    "fixed": [],
    "random": ["--data.init_args.random_train_frames=true"],
    "random+dropout": ["--data.init_args.random_train_frames=true", "--model.init_args.dropout=all"],
}
CONFIGS = "-c stages/data/demo_qa.yaml -c stages/{stage}.yaml -c stages/profiles/demo.yaml"
CKPT, BACKBONE = Path("checkpoints/demo"), "data/demo/backbone"


def sevila(verb: str, stage: str, *flags: str) -> float:
    """Run one `sevila` verb as the Makefile does; returns its wall clock in seconds."""
    command = [sys.executable, "-m", "sevila.cli", verb, *CONFIGS.format(stage=stage).split(), *flags]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def run_mode(name: str, out: Path) -> dict[str, float]:
    """Stage 3 and the refined evaluation of one mode, in `out/name`."""
    folder = out / name
    shutil.rmtree(folder, ignore_errors=True)
    refined, answerer = folder / "localizer_refined.safetensors", CKPT / "demo_qa" / "answerer.safetensors"
    common = [f"--model.init_args.backbone={BACKBONE}", f"--model.init_args.feature_cache={folder / 'features'}",
              f"--model.init_args.init_answerer={answerer}"]
    seconds = sevila(
        "fit", "refine_localizer", *common, *MODES[name],
        f"--model.init_args.init_localizer={CKPT / 'demo_moments' / 'localizer.safetensors'}",
        f"--model.init_args.cache_dir={folder / 'pseudo_labels'}", f"--model.init_args.export_path={refined}",
        f"--trainer.default_root_dir={folder / 'refine_localizer'}",
    )
    sevila("test", "evaluate", *common, f"--model.init_args.init_localizer={refined}",
           f"--model.init_args.output_dir={folder / 'results'}", f"--trainer.default_root_dir={folder / 'results'}")
    metrics = json.loads((folder / "results" / "metrics.json").read_text())
    labels: dict[str, bool] = {}
    for shard in (folder / "pseudo_labels").glob("pseudo_labels.rank*.json"):
        labels.update(json.loads(shard.read_text()))
    positive = 100 * sum(labels.values()) / max(len(labels), 1)
    return {"acc": metrics["Acc"], "labels": len(labels), "positive": positive, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds; the fastest of each mode counts")
    parser.add_argument("--output", type=Path, default=Path("results/bench/refine"))
    args = parser.parse_args()
    needs = [CKPT / "demo_moments" / "localizer.safetensors", CKPT / "demo_qa" / "answerer.safetensors", Path(BACKBONE)]
    for needed in needs:
        if not needed.exists():
            sys.exit(f"missing {needed}: run `make demo` first")
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):  # interleaved rounds: the shared machine's load hits every mode alike
        for name in args.modes:
            run = run_mode(name, args.output)
            best = results.setdefault(name, run)
            assert (run["acc"], run["labels"]) == (best["acc"], best["labels"]), (name, run, best)
            best["seconds"] = min(best["seconds"], run["seconds"])
    base = results[args.modes[0]]["seconds"]
    print(f"| stage 3 | refined accuracy | pseudo-labels computed (yes %) | stage 3 wall clock | / {args.modes[0]} |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['acc']:.2f} | {r['labels']} ({r['positive']:.1f}%) | {r['seconds']:.1f} s | "
              f"{r['seconds'] / base:.2f}x |")


if __name__ == "__main__":
    main()
