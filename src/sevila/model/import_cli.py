"""`sevila import-checkpoint`: the authors' released LAVIS checkpoint -> a stage output our stages load."""

from __future__ import annotations

import logging
from pathlib import Path

from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError
from sevila.model.backbone import DEFAULT_BACKBONE
from sevila.model.checkpoint_import import import_checkpoint

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    """Run `sevila import-checkpoint --lavis PTH --output OUT.safetensors [--backbone NAME_OR_DIR]`."""
    args = _parser().parse_args(argv)
    if args.output.suffix != ".safetensors":
        raise SevilaError(
            f"--output {args.output}: expected a .safetensors path (stage outputs are safetensors, "
            "passed to a stage as model.init_localizer / model.init_answerer)"
        )
    path = import_checkpoint(args.lavis, args.output, args.backbone)
    log.info("wrote %s: Localizer and Answerer heads, usable as model.init_localizer / model.init_answerer", path)
    return 0


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog="sevila import-checkpoint",
        description="Convert the authors' sevila_pretrained.pth (LAVIS names) into our Localizer + Answerer heads.",
    )
    parser.add_argument("--lavis", required=True, type=Path, help="the released LAVIS checkpoint (.pth)")
    parser.add_argument("--output", required=True, type=Path, help="stage output to write (.safetensors)")
    parser.add_argument(
        "--backbone", default=DEFAULT_BACKBONE, help="BLIP-2 hub name or local save_pretrained directory"
    )
    return parser
