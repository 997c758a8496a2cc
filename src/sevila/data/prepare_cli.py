"""`sevila prepare DATASET --input RAW --output OUT.json`: convert an official release to the SeViLA format."""

from __future__ import annotations

import logging
from pathlib import Path

from sevila.cli_parser import OneLineParser
from sevila.data.annotations import DATASETS, check_dataset
from sevila.data.converters import convert
from sevila.data.video_paths import load_video_map
from sevila.errors import SevilaError
from sevila.io import check_output_file, write_json, write_jsonl

logger = logging.getLogger(__name__)

FRAMES_TO_VIDEO = "frames-to-video"
REPORT_SUFFIX = ".invalid.jsonl"


def report_path(output: str | Path) -> Path:
    """Where `--skip-invalid` writes the rows it left out: `OUT.json` -> `OUT.invalid.jsonl`."""
    return Path(output).with_suffix(REPORT_SUFFIX)


def main(argv: list[str]) -> int:
    """Run `sevila prepare`; `sevila prepare frames-to-video ...` is handed to the frames tool."""
    if argv and argv[0] == FRAMES_TO_VIDEO:
        from sevila.data.frames_to_video import main as frames_to_video

        return frames_to_video(argv[1:])
    args = _parser().parse_args(argv)
    check_dataset(args.dataset)
    inputs = [path for path in (args.input, args.video_map, args.grounding) if path is not None]
    check_output_file(args.output, "--output", inputs)
    if args.skip_invalid:
        check_output_file(report_path(args.output), "--output (its --skip-invalid report)", inputs)
    video_map = load_video_map(args.video_map) if args.video_map else None
    conversion = convert(
        args.dataset, args.input, video_map=video_map, skip_invalid=args.skip_invalid, grounding=args.grounding,
        tidy_text=args.tidy_text,
    )
    if args.skip_invalid:
        report = report_path(args.output)
        write_jsonl(report, [problem.to_json() for problem in conversion.problems])
        logger.info("%s: skipped %d invalid row(s); see %s", args.input, len(conversion.problems), report)
    if not conversion.records:
        hint = f"; see {report_path(args.output)}" if args.skip_invalid else ""
        raise SevilaError(f"{args.input}: no valid records to write{hint}")
    write_json(args.output, conversion.to_json())
    logger.info("wrote %d %s records to %s", len(conversion.records), args.dataset, args.output)
    return 0


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog="sevila prepare",
        description=f"Convert an official annotation file to the SeViLA JSON format, or run `{FRAMES_TO_VIDEO}`.",
    )
    parser.add_argument("dataset", metavar="DATASET", help=f"one of: {', '.join(DATASETS)}")
    parser.add_argument("--input", required=True, type=Path, help="the official annotation file (csv/json/jsonl)")
    parser.add_argument("--output", required=True, type=Path, help="the SeViLA-format JSON list to write")
    parser.add_argument("--video-map", type=Path, help="NExT-QA map_vid_vidorID.json (needed for nextqa, nextgqa)")
    parser.add_argument("--grounding", type=Path, help="NExT-GQA gsub_<split>.json, the windows (needed for nextgqa)")
    parser.add_argument(
        "--tidy-text",
        action="store_true",
        help="strip whitespace around questions and options, and give NExT-QA's '?' and '.' only where missing "
        "(default: the original notebook's text byte for byte, which always appends them)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help=f"leave bad rows out and list them in OUT{REPORT_SUFFIX} instead of stopping at the first",
    )
    return parser
