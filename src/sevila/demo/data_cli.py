"""`sevila demo-data --output DIR`: generate the embedded demo benchmark (videos + annotations)."""

from __future__ import annotations

import logging
from pathlib import Path

from sevila.cli_parser import OneLineParser
from sevila.demo.benchmark import SyntheticSettings, generate_benchmark
from sevila.demo.world import VARIANTS

logger = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    """Run `sevila demo-data`; an existing complete benchmark with the same settings is kept as it is."""
    args = _parser().parse_args(argv)
    settings = SyntheticSettings(
        num_train_videos=args.train_videos, num_val_videos=args.val_videos, size=args.size, seed=args.seed,
        variant=args.variant, num_moment_videos=args.moment_videos, num_moment_val_videos=args.moment_val_videos,
    )
    files = generate_benchmark(args.output, settings)
    logger.info("demo benchmark ready: videos in %s, QA in %s, moments in %s",
                files.videos, files.qa["train"].parent, files.moments["train"].parent)
    return 0


def _parser() -> OneLineParser:
    defaults = SyntheticSettings()
    parser = OneLineParser(
        prog="sevila demo-data",
        description="Generate the synthetic demo benchmark: clips whose answer is shown in only a few frames.",
    )
    parser.add_argument("--output", required=True, type=Path, help="folder to write the benchmark into")
    parser.add_argument("--train-videos", type=int, default=defaults.num_train_videos, help="number of training clips")
    parser.add_argument("--val-videos", type=int, default=defaults.num_val_videos, help="number of validation clips")
    parser.add_argument("--moment-videos", type=int, default=defaults.num_moment_videos,
                        help="number of moment clips for the Localizer's pre-training (their own videos)")
    parser.add_argument("--moment-val-videos", type=int, default=defaults.num_moment_val_videos,
                        help="number of moment validation clips")
    parser.add_argument("--size", type=int, default=defaults.size, help="frame width and height in pixels")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="the same seed writes the same files")
    parser.add_argument("--variant", choices=VARIANTS, default=defaults.variant,
                        help="event: one vivid event, Color/Shape questions; count: 1-4 events, how many")
    return parser
