"""`sevila predict`: answer a multiple-choice question about any video with the forward chain."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sevila import prompts
from sevila.cli_parser import OneLineParser
from sevila.data.video import check_video
from sevila.errors import SevilaError
from sevila.inference import VideoAnswer, answer_video
from sevila.io import check_output_file
from sevila.model.backbone import DEFAULT_BACKBONE, load_blip2
from sevila.model.head_weights import load_all_heads, stored_modules
from sevila.model.precision import DTYPES
from sevila.model.sevila import SeViLA
from sevila.visualize import contact_sheet, save_png

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    """Where a profile's backbone and default stage outputs are."""

    backbone: str
    checkpoints: tuple[str, ...]


PROFILES = {
    "demo": Profile(
        "data/demo/backbone",
        ("checkpoints/demo/demo_qa/localizer_refined.safetensors", "checkpoints/demo/demo_qa/answerer.safetensors"),
    ),
    "paper": Profile(DEFAULT_BACKBONE, ("checkpoints/paper/sevila_pretrained.safetensors",)),
}


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="sevila predict", description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="any video file PyAV reads")
    parser.add_argument("--question", required=True)
    parser.add_argument("--option", action="append", default=[], help="an answer option (2 to 5, in order)")
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
    """Every argument, the video and the stage outputs, before any weight is loaded: a bad input is one line at once."""
    if not args.question.strip():
        raise SevilaError("--question is empty; ask a question about the video")
    if not 2 <= len(args.option) <= len(prompts.OPTION_LETTERS):
        raise SevilaError(f"got {len(args.option)} --option; give 2 to {len(prompts.OPTION_LETTERS)} answer options")
    if any(not option.strip() for option in args.option):
        raise SevilaError("an --option is empty; every answer option needs text")
    if not 1 <= args.num_keyframes <= args.num_frames:
        raise SevilaError(f"--num-keyframes {args.num_keyframes} must be in 1..--num-frames ({args.num_frames})")
    if args.save_keyframes is not None:
        check_output_file(args.save_keyframes, "--save-keyframes", [args.video])
    backbone = Path(args.backbone or PROFILES[args.profile].backbone)
    if backbone.exists() and not (backbone / "config.json").is_file():
        raise SevilaError(f"--backbone {backbone}: no config.json; expected a folder written by `save_pretrained`")
    for path in _checkpoints(args):
        stored_modules(path)
    check_video(args.video, args.num_frames)  # opened and indexed: empty, cut, a folder, not a video


def frozen_dtypes(args: argparse.Namespace) -> tuple[torch.dtype, torch.dtype]:
    """The ViT's and T5's dtypes: the flags, else the paper's (float16, bfloat16) on CUDA and float32 on CPU."""
    cuda = torch.cuda.is_available()
    vision = args.vision_dtype or ("float16" if cuda else "float32")
    language = args.language_dtype or ("bfloat16" if cuda else "float32")
    return DTYPES[vision], DTYPES[language]


def build_model(args: argparse.Namespace) -> SeViLA:
    """The profile's backbone with its (or the given) stage outputs; zero-shot heads where none is found."""
    profile = PROFILES[args.profile]
    model = SeViLA(load_blip2(args.backbone or profile.backbone), num_keyframes=args.num_keyframes).eval()
    for path in _checkpoints(args):
        log.info("loaded %s from %s", ", ".join(load_all_heads(model, path)), path)
    model.set_precision(*frozen_dtypes(args))  # evaluation: the heads compute in fp32, as the original's
    return model.cuda() if torch.cuda.is_available() else model


def _checkpoints(args: argparse.Namespace) -> list[str]:
    """The stage outputs to load: the given ones, else those of the profile that exist."""
    return args.checkpoint or [path for path in PROFILES[args.profile].checkpoints if Path(path).is_file()]


@dataclass
class Prediction:
    """The forward chain's answer on one video, and what it looked at."""

    answer: int
    answer_text: str
    option_probs: list[float]
    keyframes: list[dict[str, Any]]  # {index, time_s, score} in temporal order
    video: VideoAnswer

    def to_json(self) -> dict[str, Any]:
        """The `--json` object."""
        return {key: getattr(self, key) for key in ("answer", "answer_text", "option_probs", "keyframes")}


def predict(model: SeViLA, video: Path, question: str, options: list[str], num_frames: int) -> Prediction:
    """Forward chain on one video: the answer, each option's probability and the keyframes."""
    answered = answer_video(model, video, prompts.qa_prompts(question, options), len(options), num_frames)
    probs = answered.option_probs
    answer = max(range(len(options)), key=probs.__getitem__)
    chosen = [
        {"index": answered.indices[k], "time_s": round(answered.indices[k] / answered.fps, 3),
         "score": round(float(answered.scores[k]), 4)}
        for k in answered.keyframes.tolist()
    ]
    return Prediction(answer, options[answer], probs, chosen, answered)


def main(argv: list[str]) -> int:
    """Print the chosen option, the option probabilities and the keyframes (or one JSON object)."""
    args = _parser().parse_args(argv)
    check_inputs(args)
    model = build_model(args)
    result = predict(model, args.video, args.question, args.option, args.num_frames)
    if args.save_keyframes:
        video = result.video
        save_png(contact_sheet(video.frames, video.scores.tolist(), video.keyframes.tolist(), args.question),
                 args.save_keyframes)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"answer: {prompts.option_letter(result.answer)}. {result.answer_text}")
    for i, (option, prob) in enumerate(zip(args.option, result.option_probs)):
        print(f"  {prompts.option_letter(i)}. {option}: {prob:.3f}")
    times = ", ".join(f"{k['time_s']:.2f}s (frame {k['index']}, score {k['score']:.2f})" for k in result.keyframes)
    print(f"keyframes: {times}")
    return 0
