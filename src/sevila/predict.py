"""`sevila predict`: answer multiple-choice questions about any video with the forward chain (`sevila.Pipeline`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sevila import prompts
from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError
from sevila.pipeline import PROFILES, Pipeline
from sevila.pipeline_types import Answer
from sevila.predict_batch import BAD_VIDEO_POLICIES, BatchRun, run_batch
from sevila.visualize import contact_sheet, save_png


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="sevila predict", description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="any video file PyAV reads (one question)")
    parser.add_argument("--question", help="the question about --video")
    parser.add_argument("--option", action="append", default=[], help="an answer option (2 to 5, in order)")
    parser.add_argument("--questions", type=Path,
                        help="many questions: a .csv or .jsonl file {video, question, options, qid?, start?, end?} "
                        "(the custom dataset's schema; README 'Your own videos')")
    parser.add_argument("--output", type=Path, help="with --questions: the JSON Lines file of answers, appended to "
                        "and resumed (qids already in it are skipped)")
    parser.add_argument("--video-dir", type=Path, help="with --questions: folder of the videos (default: the "
                        "questions file's folder)")
    parser.add_argument("--on-bad-video", choices=BAD_VIDEO_POLICIES, default="error",
                        help="with --questions: error stops at an unreadable video; skip writes an error record for "
                        "each of its questions, warns, and goes on")
    parser.add_argument("--batch-size", type=int, default=8, help="questions per chain call (same video)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="demo")
    parser.add_argument("--backbone", help="BLIP-2 hub name or folder (default: the profile's)")
    parser.add_argument("--checkpoint", action="append", help="stage output(s) to load (default: the profile's)")
    parser.add_argument("--num-frames", type=int, default=32, help="candidate frames n")
    parser.add_argument("--num-keyframes", type=int, default=4, help="keyframes k")
    parser.add_argument("--save-keyframes", type=Path, help="write a contact sheet PNG of the n frames")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.num_keyframes <= args.num_frames:
        raise SevilaError(f"--num-keyframes {args.num_keyframes} must be in 1..--num-frames ({args.num_frames})")
    if args.questions is not None:
        single = [flag for flag, value in (("--video", args.video), ("--question", args.question),
                                           ("--option", args.option), ("--save-keyframes", args.save_keyframes))
                  if value]
        if single:
            raise SevilaError(f"--questions answers a file of questions: drop {', '.join(single)}")
        if args.output is None:
            raise SevilaError("--questions needs --output preds.jsonl (answers are appended there, and resumed)")
        return
    if args.video is None or args.question is None:
        raise SevilaError("give --video V --question Q --option A --option B ..., or --questions FILE --output OUT")
    if not args.video.is_file():
        raise SevilaError(f"{args.video}: no such video file")
    if not args.question.strip():
        raise SevilaError("--question is empty; ask a question about the video")
    if not 2 <= len(args.option) <= len(prompts.OPTION_LETTERS):
        raise SevilaError(f"got {len(args.option)} --option; give 2 to {len(prompts.OPTION_LETTERS)} answer options")
    if any(not option.strip() for option in args.option):
        raise SevilaError("an --option is empty; every answer option needs text")


def _print(result: Answer, options: list[str]) -> None:
    print(f"answer: {prompts.option_letter(result.answer)}. {result.answer_text}")
    for i, (option, prob) in enumerate(zip(options, result.option_probs)):
        print(f"  {prompts.option_letter(i)}. {option}: {prob:.3f}")
    times = ", ".join(f"{k.time:.2f}s (frame {k.index}, score {k.score:.2f})" for k in result.keyframes)
    print(f"keyframes: {times}")


def main(argv: list[str]) -> int:
    """Answer one question (print it, or one JSON object), or a file of questions into a JSON Lines file."""
    args = _parser().parse_args(argv)
    _check(args)
    if args.questions is not None:
        video_dir = args.video_dir or args.questions.parent
        run = BatchRun(args.questions, args.output, video_dir, args.on_bad_video, args.num_frames, args.num_keyframes,
                       args.batch_size)
        return run_batch(Pipeline.from_profile(args.profile, args.backbone, args.checkpoint), run)
    pipe = Pipeline.from_profile(args.profile, args.backbone, args.checkpoint)
    result = pipe(args.video, args.question, args.option, args.num_frames, args.num_keyframes)
    if args.save_keyframes:
        chosen = [k.position for k in result.keyframes]
        save_png(contact_sheet(result.frames, result.frame_scores or [], chosen, args.question), args.save_keyframes)
    if args.json:
        payload = result.to_json()
        print(json.dumps({key: payload[key] for key in ("answer", "answer_text", "option_probs", "keyframes")}))
        return 0
    _print(result, args.option)
    return 0
