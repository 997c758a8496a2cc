"""Facts about each benchmark in one table: options, question types, official metric, files, frames.

`data/` (readers, converters, video paths, DataModules) and `metrics/` (official tables, submission
files) read these facts from here; neither keeps its own copy (sevila-method.md §5, §7-§9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sevila.errors import SevilaError

Task = Literal["qa", "event", "moments"]  # which prompts (§2): question + options, event prediction, a moment query
Metric = Literal["accuracy", "nextqa", "star", "moments", "grounding"]  # the official table (`metrics.official`)
Layout = Literal["flat", "nextqa", "vlep", "files"]  # where the videos lie under the video folder (`data.video_paths`)


@dataclass(frozen=True)
class Benchmark:
    """What the code needs to know about one benchmark."""

    name: str  # as the CLI and the stage YAMLs spell it
    title: str  # as the paper spells it
    task: Task
    num_options: int  # answer options per question (§5); 0 for moment retrieval
    question_types: tuple[str, ...]  # the qid prefixes before the first `_` that name a type (§8); () = any
    metric: Metric  # the official table `sevila metrics` prints and `Evaluate` writes into metrics.json
    headline: str  # the key of that table the paper reports
    clip: Literal["video", "span"]  # frames from the whole video, or from each record's [start, end] seconds (§7)
    layout: Layout
    official_format: str  # what `sevila prepare NAME` converts; "" = no official release (the demo)
    submission: str  # file name of the official submission `sevila test` writes beside metrics.json; "" = none
    train_frames: int = 32  # candidate frames n per item in training (§6)
    eval_frames: int = 32  # frames per item in evaluation (§6, §9)
    qid_prefix: str = ""  # the prefix every qid of this benchmark carries (`VLEP_<id>`); "" = the question type


NEXTQA_TYPES = ("CW", "CH", "TN", "TP", "TC", "DL", "DC", "DO")
STAR_CATEGORIES = ("Interaction", "Sequence", "Prediction", "Feasibility")

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("nextqa", "NExT-QA", "qa", 5, NEXTQA_TYPES, "nextqa", "Acc", "video", "nextqa",
                  "the official csv (video,frame_count,width,height,question,answer,qid,type,a0..a4) and "
                  "map_vid_vidorID.json", "submission_nextqa.json"),
        Benchmark("nextgqa", "NExT-GQA", "qa", 5, NEXTQA_TYPES, "grounding", "Acc@GQA", "video", "nextqa",
                  "the official csv (video,frame_count,width,height,question,answer,qid,type,a0..a4; the answer as "
                  "text) with gsub_<split>.json (the evidence windows) and map_vid_vidorID.json", ""),
        Benchmark("star", "STAR", "qa", 4, STAR_CATEGORIES, "star", "Mean", "span", "flat",
                  "the official STAR JSON list (question_id, question, choices, answer, video_id, start, end)", ""),
        Benchmark("how2qa", "How2QA", "qa", 4, (), "accuracy", "Acc", "span", "flat",
                  "the official csv (video_id,[start:end],wrong1,wrong2,wrong3,question,correct) or JSON Lines "
                  "(vid_name, ts, q, a0..a3, answer_idx)", "", qid_prefix="HOW2QA"),
        Benchmark("tvqa", "TVQA", "qa", 5, (), "accuracy", "Acc", "span", "flat",
                  "the official JSON Lines (q, a0..a4, answer_idx, vid_name, ts \"s-e\")", "", qid_prefix="TVQA"),
        Benchmark("vlep", "VLEP", "event", 2, (), "accuracy", "Acc", "span", "vlep",
                  "the official JSON Lines (example_id, vid_name, events, answer, ts)",
                  "submission_vlep.jsonl", qid_prefix="VLEP"),
        Benchmark("qvhighlights", "QVHighlights", "moments", 0, (), "moments", "MR-full-R1@0.5", "video", "flat",
                  "the official JSON Lines (qid, query, duration, vid, relevant_windows)",
                  "moments.jsonl", train_frames=4, eval_frames=75,
                  qid_prefix="QVHighlight"),
        # Count: the demo world's `count` variant (`sevila demo-data --variant count`).
        Benchmark("demo", "SeViLA demo (synthetic)", "qa", 5, ("Color", "Shape", "Count"), "accuracy", "Acc", "video",
                  "flat", "", ""),
        # Your own videos and questions (`sevila.data.custom`): 2-5 options, a span where a row gives one.
        Benchmark("custom", "your own videos", "qa", 5, (), "accuracy", "Acc", "span", "files", "", ""),
    )
}
MAX_OPTIONS = max(b.num_options for b in BENCHMARKS.values())
OFFICIAL = tuple(name for name, b in BENCHMARKS.items() if b.official_format)  # what `sevila prepare` converts


def benchmark(name: str, among: tuple[str, ...] = tuple(BENCHMARKS)) -> Benchmark:
    """The benchmark called `name`; an unknown name is one error line listing the known ones."""
    if name not in among:
        raise SevilaError(f"unknown dataset {name!r}; expected one of: {', '.join(among)}")
    return BENCHMARKS[name]
