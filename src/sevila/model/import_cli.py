"""`sevila import-checkpoint`: a LAVIS checkpoint -> our stage output, and a whole state dict's frozen BLIP-2."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError
from sevila.io import check_output_file, check_output_folder
from sevila.model.backbone import DEFAULT_BACKBONE
from sevila.model.checkpoint_import import import_checkpoint, import_with_backbone
from sevila.model.lavis_backbone import BUNDLED_CONFIG, BackboneExport

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    """Run `sevila import-checkpoint --lavis PTH [--output OUT.safetensors] [--backbone-output DIR ...]`."""
    args = _parser().parse_args(argv)
    _check(args)
    if args.backbone_output is None:
        path = import_checkpoint(args.lavis, args.output, args.backbone)
        log.info("wrote %s: Localizer and Answerer heads, usable as model.init_localizer / model.init_answerer", path)
        return 0
    export = BackboneExport(args.backbone_output, args.tokenizer or args.backbone, args.config)
    folder = import_with_backbone(args.lavis, export, args.output)
    log.info("wrote %s: a BLIP-2 backbone, usable as --model.init_args.backbone=%s", folder, folder)
    return 0


def _check(args: argparse.Namespace) -> None:
    if args.output is None and args.backbone_output is None:
        raise SevilaError("import-checkpoint: give --output HEADS.safetensors, --backbone-output DIR, or both")
    if args.output is not None and args.output.suffix != ".safetensors":
        raise SevilaError(
            f"--output {args.output}: expected a .safetensors path (stage outputs are safetensors, "
            "passed to a stage as model.init_localizer / model.init_answerer)"
        )
    if args.backbone_output is None and (args.config is not None or args.tokenizer is not None):
        raise SevilaError("--config and --tokenizer describe the backbone folder: use them with --backbone-output DIR")
    if args.output is not None:
        check_output_file(args.output, "--output", [args.lavis])
    if args.backbone_output is not None:
        check_output_folder(args.backbone_output, "--backbone-output")


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog="sevila import-checkpoint",
        description="Convert a LAVIS SeViLA checkpoint (e.g. sevila_pretrained.pth) into our Localizer + Answerer "
        "heads, and a whole LAVIS BLIP-2/SeViLA state dict into a Hugging Face BLIP-2 backbone folder.",
    )
    parser.add_argument("--lavis", required=True, type=Path, help="LAVIS checkpoint or bare state dict (.pth)")
    parser.add_argument("--output", type=Path, help="stage output to write with both heads (.safetensors)")
    parser.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help="BLIP-2 hub name or local save_pretrained directory the heads are checked against "
        "(with --backbone-output: only the default --tokenizer)",
    )
    parser.add_argument(
        "--backbone-output",
        type=Path,
        help="new folder for the frozen backbone (ViT, ln_vision, Q-Former, query tokens, projection, T5) of a whole "
        "state dict, as save_pretrained writes it; the heads are then checked against it",
    )
    parser.add_argument("--config", type=Path, help=f"Blip2Config JSON with the backbone's sizes ({BUNDLED_CONFIG})")
    parser.add_argument("--tokenizer", help="tokenizer folder (copied) or hub name (default: --backbone's)")
    return parser
