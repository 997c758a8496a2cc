"""`sevila data check DATASET --annotations FILE [--videos DIR]`: validate annotations, count types, probe videos."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from sevila.data.annotations import (
    DATASETS,
    MomentRecord,
    QARecord,
    check_dataset,
    qid_type,
    read_moment_annotations,
    read_qa_annotations,
)
from sevila.cli_parser import OneLineParser
from sevila.data.custom import DEFAULT_VAL_FRACTION, assign_splits, read_custom_questions
from sevila.data.video_paths import load_video_map, video_path

CUSTOM = "custom"  # your own questions file (`sevila.data.custom`), the videos named with their extension


def main(argv: list[str]) -> int:
    """Run `sevila data check`; exit code 2 when a video is missing or unreadable."""
    args = _parser().parse_args(argv)
    dataset = CUSTOM if args.dataset == CUSTOM else check_dataset(args.dataset)
    records = _read(dataset, args.annotations)
    counts = Counter(qid_type(record.qid) for record in records)
    print(f"{args.annotations}: {len(records)} {dataset} records")
    for qtype, count in sorted(counts.items()):
        print(f"  {qtype:<12} {count:>7}")
    if args.videos is None:
        return 0
    video_map = load_video_map(args.video_map) if args.video_map else None
    paths = sorted({video_path(dataset, args.videos, record.video, video_map) for record in records})
    missing, unreadable = _check_videos(paths)
    print(f"videos: {len(paths)} checked, {len(missing)} missing, {len(unreadable)} unreadable")
    for path in missing:
        print(f"  missing: {path}")
    for path, reason in unreadable.items():
        print(f"  unreadable: {path}: {reason}")
    if missing or unreadable:
        print(f"sevila data check: {len(missing)} missing and {len(unreadable)} unreadable video(s)", file=sys.stderr)
        return 2
    return 0


def _read(dataset: str, path: Path) -> Sequence[QARecord | MomentRecord]:
    if dataset == CUSTOM:
        questions = read_custom_questions(path)
        splits = assign_splits(questions, DEFAULT_VAL_FRACTION, str(path))
        print(f"{path}: questions per split: " + ", ".join(f"{name} {len(rows)}" for name, rows in splits.items()))
        return [question.record for question in questions]
    return read_moment_annotations(path) if dataset == "qvhighlights" else read_qa_annotations(path)


def _check_videos(paths: Sequence[Path]) -> tuple[list[Path], Mapping[Path, str]]:
    """Split `paths` into missing files and files PyAV cannot read (with the reason)."""
    from sevila.data.video import VideoError, probe_video

    missing, unreadable = [], {}
    for path in paths:
        if not path.is_file():
            missing.append(path)
            continue
        try:
            probe_video(path)
        except VideoError as error:
            unreadable[path] = str(error)
    return missing, unreadable


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="sevila data", description="Check prepared annotations and their videos.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="check")
    check = commands.add_parser("check", help="count records per question type; find missing/unreadable videos")
    check.add_argument("dataset", metavar="DATASET", help=f"one of: {', '.join((*DATASETS, CUSTOM))}")
    check.add_argument("--annotations", required=True, type=Path,
                       help="SeViLA-format JSON (or QVHighlights jsonl); custom: your questions .csv or .jsonl")
    check.add_argument("--videos", type=Path, help="the video folder; every record's video is probed with PyAV")
    check.add_argument("--video-map", type=Path, help="NExT-QA map_vid_vidorID.json, for records with bare video ids")
    return parser
