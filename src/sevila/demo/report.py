"""The demo's results: summary.json/.md, a bar chart and a keyframe contact sheet in results/demo/.

keyframe_hit_rate: percent of the selected frames that lie inside one of the video's event windows.
pseudo_label_precision: percent of the frames the reverse chain labelled `yes` that lie inside one;
pseudo_label_recall: percent of the labelled frames inside one that it labelled `yes`.
mIoU, IoP@0.5, Acc@GQA: NExT-GQA's grounding metrics of each prediction's `window` (the `keyframes` rule, from the
first to the last keyframe) against the event's window in seconds (its frames first/fps to (last + 1)/fps).
All are computed from the files the pipeline wrote; the event windows are read only here, to score.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sevila import prompts
from sevila.data.annotations import read_qa_annotations
from sevila.inference import answer_video
from sevila.io import atomic_open, write_json
from sevila.metrics.grounding import nextgqa_metrics
from sevila.model.backbone import load_blip2
from sevila.model.head_weights import load_heads
from sevila.model.sevila import SeViLA
from sevila.charts import bar_chart, save_figure
from sevila.visualize import contact_sheet, save_png, stack_vertically

log = logging.getLogger(__name__)

MODES = ("uniform", "localizer", "refined")
GROUNDING = ("mIoU", "IoP@0.5", "Acc@GQA")


Windows = dict[str, list[list[int]]]  # event_windows.json: video -> its events' [first, last] frames


def _inside(frame: int, windows: list[list[int]]) -> bool:
    return any(first <= frame <= last for first, last in windows)


def keyframe_hit_rate(predictions: list[dict[str, Any]], videos: dict[str, str], windows: Windows) -> float:
    """Percent of the predictions' keyframes (`frame_idx`) inside one of their video's event windows."""
    hits = [_inside(f, windows[videos[p["qid"]]]) for p in predictions for f in p["frame_idx"]]
    return round(100 * sum(hits) / len(hits), 2)


def mode_summary(results: Path, videos: dict[str, str], windows: Windows, fps: float) -> dict[str, float | None]:
    """Accuracy, keyframe hit rate and grounding of one evaluation folder (predictions.json + metrics.json)."""
    metrics = json.loads((results / "metrics.json").read_text(encoding="utf-8"))
    predictions = json.loads((results / "predictions.json").read_text(encoding="utf-8"))
    truths = {p["qid"]: [_seconds(window, fps) for window in windows[videos[p["qid"]]]] for p in predictions}
    grounded = nextgqa_metrics(truths, {p["qid"]: p["window"] for p in predictions},
                               {p["qid"]: p["prediction"] == p["target"] for p in predictions}).to_json()
    return {"accuracy": metrics["Acc"], "keyframe_hit_rate": keyframe_hit_rate(predictions, videos, windows),
            **{key: grounded[key] for key in GROUNDING}}


def _seconds(window: list[int], fps: float) -> tuple[float, float]:
    """An event's frames [first, last] as seconds: frame f lasts from f / fps to (f + 1) / fps."""
    return window[0] / fps, (window[1] + 1) / fps


def read_pseudo_labels(cache_dir: Path) -> dict[str, bool]:
    """Every cached reverse-chain label, `<qid>|<frame index>` -> yes/no, of all ranks' shards."""
    labels: dict[str, bool] = {}
    for shard in sorted(cache_dir.glob("pseudo_labels.rank*.json")):
        labels.update(json.loads(shard.read_text(encoding="utf-8")))
    return labels


def pseudo_label_summary(cache_dir: Path, videos: dict[str, str], windows: Windows) -> dict[str, float]:
    """Precision, recall and positive rate of the cached reverse-chain pseudo-labels against the event windows."""
    labels = read_pseudo_labels(cache_dir)
    judged = [(label, _inside(int(frame), windows[videos[qid]]))
              for key, label in labels.items() for qid, frame in [key.rsplit("|", 1)]]
    positives = [inside for label, inside in judged if label]
    events = [label for label, inside in judged if inside]
    return {
        "pseudo_label_precision": round(100 * sum(positives) / max(1, len(positives)), 2),
        "pseudo_label_recall": round(100 * sum(events) / max(1, len(events)), 2),
        "pseudo_label_positive_rate": round(100 * len(positives) / max(1, len(labels)), 2),
    }


def markdown(summary: dict[str, Any]) -> str:
    """summary.md: one table row per mode."""
    lines = ["# SeViLA demo results", "", "| mode | accuracy | keyframe hit rate | " + " | ".join(GROUNDING) + " |",
             "|---|---|---|" + "---|" * len(GROUNDING)]
    lines += [f"| {m} | {summary[m]['accuracy']:.2f} | {summary[m]['keyframe_hit_rate']:.2f} | "
              + " | ".join(f"{summary[m][key]:.1f}" for key in GROUNDING) + " |" for m in MODES]
    lines += ["", f"pseudo-label precision: {summary['pseudo_label_precision']:.2f}, recall "
              f"{summary['pseudo_label_recall']:.2f} (positive rate {summary['pseudo_label_positive_rate']:.2f})", ""]
    return "\n".join(lines)


def keyframe_sheets(model: SeViLA, data: Path, num_frames: int, count: int) -> list:
    """Contact sheets of the first `count` validation questions, scored by `model`'s Localizer."""
    sheets = []
    for record in read_qa_annotations(data / "qa" / "val.json")[:count]:
        texts = prompts.qa_prompts(record.question, record.options)
        video = answer_video(model, data / "videos" / f"{record.video}.mp4", texts, len(record.options), num_frames)
        title = f"{record.qid}: {record.question} -> keyframes {video.keyframes.tolist()}"
        sheets.append(contact_sheet(video.frames, video.scores.tolist(), video.keyframes.tolist(), title))
    return sheets


def write_report(data: Path, results: Path, checkpoints: Path, backbone: str, num_frames: int = 32) -> dict[str, Any]:
    """Collect the three evaluations and the pseudo-labels into results/ files; returns the summary."""
    records = read_qa_annotations(data / "qa" / "train.json") + read_qa_annotations(data / "qa" / "val.json")
    videos = {record.qid: record.video for record in records}
    windows = json.loads((data / "event_windows.json").read_text(encoding="utf-8"))
    fps = json.loads((data / "complete").read_text(encoding="utf-8"))["settings"]["fps"]
    summary: dict[str, Any] = {mode: mode_summary(results / mode, videos, windows, fps) for mode in MODES}
    summary.update(pseudo_label_summary(checkpoints / "demo_qa" / "pseudo_labels", videos, windows))
    write_json(results / "summary.json", summary)
    with atomic_open(results / "summary.md") as handle:
        handle.write(markdown(summary))
    chart = {mode: {"accuracy": summary[mode]["accuracy"], "keyframe hit rate": summary[mode]["keyframe_hit_rate"]}
             for mode in MODES}
    save_figure(bar_chart(chart, "SeViLA demo: uniform vs Localizer vs refined Localizer"), results / "summary.png")
    model = SeViLA(load_blip2(backbone)).eval()
    load_heads(model, checkpoints / "demo_qa" / "localizer_refined.safetensors", "localizer")
    sheets = keyframe_sheets(model, data, num_frames, count=3)
    save_png(stack_vertically(sheets), results / "keyframes.png")
    return summary
