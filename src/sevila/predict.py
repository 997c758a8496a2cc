"""`sevila predict`: answer multiple-choice questions about any video with the forward chain (`sevila.Pipeline`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sevila import prompts
from sevila.cli_parser import OneLineParser
from sevila.data.video import check_video
from sevila.errors import SevilaError
from sevila.io import check_output_file
from sevila.model.head_weights import stored_modules
from sevila.model.precision import DTYPES
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
    parser.add_argument("--vision-dtype", choices=sorted(DTYPES),
                        help="the frozen ViT's dtype (default: the paper's float16 on CUDA, float32 on CPU)")
    parser.add_argument("--language-dtype", choices=sorted(DTYPES),
                        help="the frozen T5's dtype (default: the paper's bfloat16 on CUDA, float32 on CPU)")
    parser.add_argument("--save-keyframes", type=Path, help="write a contact sheet PNG of the n frames")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def check_inputs(args: argparse.Namespace) -> None:
    """Every argument, the video(s), outputs and stage outputs, before any weight is loaded: a bad input is one line."""
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
        check_output_file(args.output, "--output", [args.questions])
        _check_weights(args)
        return
    if args.video is None or args.question is None:
        raise SevilaError("give --video V --question Q --option A --option B ..., or --questions FILE --output OUT")
    if not args.question.strip():
        raise SevilaError("--question is empty; ask a question about the video")
    if not 2 <= len(args.option) <= len(prompts.OPTION_LETTERS):
        raise SevilaError(f"got {len(args.option)} --option; give 2 to {len(prompts.OPTION_LETTERS)} answer options")
    if any(not option.strip() for option in args.option):
        raise SevilaError("an --option is empty; every answer option needs text")
    if args.save_keyframes is not None:
        check_output_file(args.save_keyframes, "--save-keyframes", [args.video])
    _check_weights(args)
    check_video(args.video, args.num_frames)  # opened and indexed: empty, cut, a folder, not a video


def _check_weights(args: argparse.Namespace) -> None:
    """The backbone folder and the stage outputs' headers, without loading any weight."""
    backbone = Path(args.backbone or PROFILES[args.profile].backbone)
    if backbone.exists() and not (backbone / "config.json").is_file():
        raise SevilaError(f"--backbone {backbone}: no config.json; expected a folder written by `save_pretrained`")
    for path in args.checkpoint or [p for p in PROFILES[args.profile].checkpoints if Path(p).is_file()]:
        stored_modules(path)


def _pipeline(args: argparse.Namespace) -> Pipeline:
    return Pipeline.from_profile(args.profile, args.backbone, args.checkpoint, vision_dtype=args.vision_dtype,
                                 language_dtype=args.language_dtype)


def _print(result: Answer, options: list[str]) -> None:
    print(f"answer: {prompts.option_letter(result.answer)}. {result.answer_text}")
    for i, (option, prob) in enumerate(zip(options, result.option_probs)):
        print(f"  {prompts.option_letter(i)}. {option}: {prob:.3f}")
    times = ", ".join(f"{k.time:.2f}s (frame {k.index}, score {k.score:.2f})" for k in result.keyframes)
    print(f"keyframes: {times}")


def main(argv: list[str]) -> int:
    """Answer one question (print it, or one JSON object), or a file of questions into a JSON Lines file."""
    args = _parser().parse_args(argv)
    check_inputs(args)
    if args.questions is not None:
        video_dir = args.video_dir or args.questions.parent
        run = BatchRun(args.questions, args.output, video_dir, args.on_bad_video, args.num_frames, args.num_keyframes,
                       args.batch_size)
        return run_batch(_pipeline(args), run)
    pipe = _pipeline(args)
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
