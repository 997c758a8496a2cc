"""`sevila app`: a web page (Gradio, the `app` extra) to ask SeViLA about a video and see which frames it used."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from sevila.app_logic import MAX_OPTIONS, AppResult, answer_upload
from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError
from sevila.pipeline import PROFILES, Pipeline

log = logging.getLogger(__name__)

DEMO_QUESTIONS = Path("data/demo/qa/val.json")
DEMO_VIDEOS = Path("data/demo/videos")
TITLE = "SeViLA: which frames answer the question?"


def _gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home: the page works offline
    try:
        import gradio
    except ImportError as error:
        raise SevilaError(f"the web app needs Gradio: pip install -e '.[app]' -c constraints.txt ({error})") from None
    return gradio


def demo_examples(count: int = 3) -> list[list[Any]]:
    """The first demo validation questions as [video, question, options] rows, when `make demo` made them."""
    if not DEMO_QUESTIONS.is_file():
        return []
    from sevila.data.annotations import read_qa_annotations

    rows = []
    for record in read_qa_annotations(DEMO_QUESTIONS)[:count]:
        video = DEMO_VIDEOS / f"{record.video}.mp4"
        if video.is_file():
            rows.append([str(video), record.question, "\n".join(record.options)])
    return rows


def _outputs(result: AppResult | None, status: str) -> tuple[Any, ...]:
    if result is None:
        return status, "", {}, [], "", None
    return status, result.answer, result.probabilities, result.keyframes, result.keyframe_table, result.chart


def build_app(pipe: Pipeline, examples: list[list[Any]]) -> Any:
    """The page: a video, a question and options in; answer, probabilities, keyframes and score chart out."""
    gr = _gradio()

    def submit(video: str | None, question: str, options: str, num_frames: float, num_keyframes: float) -> tuple:
        try:
            result = answer_upload(pipe, video, question, options, int(num_frames), int(num_keyframes))
        except SevilaError as error:
            return _outputs(None, f"**Error:** {error}")
        return _outputs(result, "Answered.")

    with gr.Blocks(title=TITLE) as page:
        gr.Markdown(f"# {TITLE}\nThe Localizer scores n frames; the Answerer answers from the top k of them.")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="video", sources=["upload"], include_audio=True, elem_id="video")
                question = gr.Textbox(label="question", elem_id="question")
                options = gr.Textbox(label=f"options, one per line (2 to {MAX_OPTIONS})", lines=MAX_OPTIONS,
                                     elem_id="options")
                with gr.Row():
                    num_frames = gr.Slider(4, 64, value=32, step=1, label="frames n", elem_id="num_frames")
                    num_keyframes = gr.Slider(1, 16, value=4, step=1, label="keyframes k", elem_id="num_keyframes")
                button = gr.Button("Answer", variant="primary", elem_id="submit")
                if examples:
                    gr.Examples(examples, [video, question, options], label="demo videos")
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                answer = gr.Textbox(label="answer", interactive=False, elem_id="answer")
                probabilities = gr.Label(label="option probabilities", elem_id="probabilities")
                keyframes = gr.Gallery(label="keyframes", columns=4, height=240, elem_id="keyframes")
                table = gr.Markdown(elem_id="keyframe_table")
                chart = gr.Plot(label="Localizer score over time", elem_id="chart")
        button.click(submit, [video, question, options, num_frames, num_keyframes],
                     [status, answer, probabilities, keyframes, table, chart])
    return page


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="sevila app", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="demo",
                        help="demo: the tiny backbone and heads of `make demo`; paper: BLIP-2 Flan-T5-XL with "
                        "checkpoints/paper/sevila_pretrained.safetensors")
    parser.add_argument("--backbone", help="BLIP-2 hub name or folder (default: the profile's)")
    parser.add_argument("--checkpoint", action="append", help="stage output(s) to load (default: the profile's)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=7860)
    return parser


def main(argv: list[str]) -> int:
    """Serve the page until interrupted."""
    args: argparse.Namespace = _parser().parse_args(argv)
    _gradio()  # a missing extra is one line before the model loads
    pipe = Pipeline.from_profile(args.profile, args.backbone, args.checkpoint)
    page = build_app(pipe, demo_examples() if args.profile == "demo" else [])
    log.info("sevila app: serving on http://%s:%d", args.host, args.port)
    page.queue().launch(server_name=args.host, server_port=args.port, share=False, quiet=True,
                        footer_links=[])
    return 0
