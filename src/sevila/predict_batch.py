"""`sevila predict --questions FILE --output preds.jsonl`: many questions, resumable, one decode and ViT pass per clip.

The output is JSON Lines, one record per question, appended and fsynced one line at a time, so a killed run
loses at most the line it was writing; a re-run drops that partial line and skips every qid already written.
A clip whose questions are only partly written is answered again whole (the same questions per chain call as
an uninterrupted run, hence the same numbers), and only its missing records are written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from sevila.data.custom import CustomQuestion, read_custom_questions
from sevila.data.video import VideoError
from sevila.data.video_paths import video_path
from sevila.errors import SevilaError
from sevila.pipeline import Pipeline, clip_groups
from sevila.pipeline_types import Question

log = logging.getLogger(__name__)

BAD_VIDEO_POLICIES = ("error", "skip")
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"  # always questions/s


@dataclass(frozen=True)
class BatchRun:
    """What one `sevila predict --questions` run reads, writes and how."""

    questions: Path
    output: Path
    video_dir: Path
    on_bad_video: str = "error"
    num_frames: int = 32
    num_keyframes: int = 4
    batch_size: int = 8


def written_qids(output: Path) -> set[str]:
    """The qids already in `output`; a partial last line (a run killed while writing it) is cut off the file."""
    if not output.is_file():
        return set()
    data = output.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        log.warning("%s: dropped a partial last line (%d bytes) left by an interrupted run", output,
                    len(data) - len(complete))
        with open(output, "r+b") as handle:
            handle.truncate(len(complete))
            os.fsync(handle.fileno())
    qids = set()
    for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
        try:
            qids.add(str(json.loads(line)["qid"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise SevilaError(f"{output}: line {number} is not a prediction record with a qid; is --output another "
                              "file? Choose a new output file or remove that line") from None
    return qids


def append_record(handle: IO[str], record: dict[str, Any]) -> None:
    """One JSON line, written with one call and fsynced: on disk whole before the next one starts."""
    handle.write(json.dumps(record) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def _answer_record(row: CustomQuestion, answer: dict[str, Any]) -> dict[str, Any]:
    record = {"qid": row.qid, "video": row.record.video, "question": row.record.question,
              **{key: value for key, value in answer.items() if key != "qid"}}
    if row.has_answer:
        record["target"] = row.record.answer
    return record


def _questions(run: BatchRun) -> tuple[list[CustomQuestion], list[Question]]:
    rows = read_custom_questions(run.questions, need_answer=False)
    questions = []
    for row in rows:
        record = row.record
        span = None if record.start is None or record.end is None else (record.start, record.end)
        path = video_path("custom", run.video_dir, record.video)
        questions.append(Question(path, record.question, record.options, span, row.qid))
    return rows, questions


def _summary(output: Path, answered: int, bad: int, before: int) -> None:
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    scored = [r for r in records if "target" in r and "answer" in r]
    accuracy = f"; accuracy {100 * sum(r['answer'] == r['target'] for r in scored) / len(scored):.2f}% on the " \
               f"{len(scored)} records with an answer" if scored else ""
    log.info("%s: %d answered, %d error records (unreadable videos), %d already there%s", output, answered, bad,
             before, accuracy)


def run_batch(pipe: Pipeline, run: BatchRun) -> int:
    """Answer every question of `run.questions` not yet in `run.output`; exit code 0 (bad videos skipped, if asked)."""
    rows, questions = _questions(run)
    done = written_qids(run.output)
    todo = sum(row.qid not in done for row in rows)
    run.output.parent.mkdir(parents=True, exist_ok=True)
    answered = errors = 0
    bar = tqdm(total=todo, unit=" questions", desc="predict", disable=not sys.stderr.isatty(), file=sys.stderr,
               bar_format=BAR_FORMAT)
    with open(run.output, "a", encoding="utf-8") as handle, logging_redirect_tqdm(), bar:
        for positions in clip_groups(questions):
            clip_rows = [rows[p] for p in positions]
            if all(row.qid in done for row in clip_rows):
                continue
            found = _write_clip(pipe, run, handle, clip_rows, [questions[p] for p in positions], done)
            answered, errors = answered + found[0], errors + found[1]
            bar.update(sum(found))
    _summary(run.output, answered, errors, len(done))
    return 0


def _write_clip(pipe: Pipeline, run: BatchRun, handle: IO[str], rows: list[CustomQuestion], clip: list[Question],
                done: set[str]) -> tuple[int, int]:
    """Answer one clip's questions (all of them: the same chain calls as an uninterrupted run) and append the
    records not yet written; returns (answered, error records)."""
    missing = [row for row in rows if row.qid not in done]
    try:
        if not Path(clip[0].video).is_file():
            raise VideoError(f"{clip[0].video}: no such video file")
        answers = pipe.answer_clip(clip, run.num_frames, run.num_keyframes, batch_size=run.batch_size)
    except VideoError as error:
        if run.on_bad_video == "error":
            raise SevilaError(f"{error}; pass --on-bad-video skip to record its questions as errors and go on") \
                from error
        log.warning("skipping %d question(s) about %s: %s", len(missing), rows[0].record.video, error)
        for row in missing:
            append_record(handle, {"qid": row.qid, "video": row.record.video, "error": str(error)})
        return 0, len(missing)
    for row, answer in zip(rows, answers):
        if row.qid not in done:
            append_record(handle, _answer_record(row, answer.to_json()))
    return len(missing), 0
