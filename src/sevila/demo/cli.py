"""`sevila demo-backbone` and `sevila demo-report`: the demo's own steps around the four stages."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sevila.cli_parser import OneLineParser
from sevila.demo.backbone import BackboneTraining, pretrain_backbone
from sevila.demo.report import write_report
from sevila.io import write_json

log = logging.getLogger(__name__)


COMPLETE = "pretraining.json"  # written last: a folder without it (an interrupted run) is trained again


def backbone_complete(folder: Path) -> bool:
    """Whether `folder` holds a whole demo backbone (saved, then its held-out accuracies written)."""
    return (folder / "config.json").is_file() and (folder / COMPLETE).is_file()


def backbone_main(argv: list[str]) -> int:
    """Pre-train the tiny BLIP-2 on single synthetic frames and save it (skipped when it is complete)."""
    parser = OneLineParser(prog="sevila demo-backbone", description=backbone_main.__doc__)
    parser.add_argument("--output", default="data/demo/backbone", help="folder for save_pretrained")
    parser.add_argument("--steps", type=int, default=BackboneTraining.steps, help="optimizer steps")
    parser.add_argument("--seed", type=int, default=BackboneTraining.seed)
    args = parser.parse_args(argv)
    output = Path(args.output)
    if backbone_complete(output):
        log.info("demo backbone: %s is complete, skipping (delete it to re-train)", output)
        return 0
    if output.exists():
        log.info("demo backbone: %s has no %s (an interrupted run): training it again", output, COMPLETE)
    accuracy = pretrain_backbone(output, BackboneTraining(steps=args.steps, seed=args.seed))
    write_json(output / COMPLETE, accuracy)
    return 0


def report_main(argv: list[str]) -> int:
    """Write results/demo/summary.{json,md}, summary.png and keyframes.png and print the table."""
    parser = OneLineParser(prog="sevila demo-report", description=report_main.__doc__)
    parser.add_argument("--data", default="data/demo", help="the synthetic benchmark folder")
    parser.add_argument("--results", default="results/demo", help="holds uniform/, localizer/, refined/")
    parser.add_argument("--checkpoints", default="checkpoints/demo", help="stage outputs of the demo profile")
    parser.add_argument("--backbone", default="data/demo/backbone")
    args = parser.parse_args(argv)
    results = Path(args.results)
    write_report(Path(args.data), results, Path(args.checkpoints), args.backbone)
    print((results / "summary.md").read_text(encoding="utf-8"))
    print(f"wrote {results}/summary.json, summary.md, summary.png, keyframes.png", file=sys.stderr)
    return 0
