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
    before = len(done)
    todo = sum(row.qid not in done for row in rows)
    run.output.parent.mkdir(parents=True, exist_ok=True)
    answered = bad = 0
    bar = tqdm(total=todo, unit="question", desc="predict", disable=not sys.stderr.isatty(), file=sys.stderr)
    with open(run.output, "a", encoding="utf-8") as handle, logging_redirect_tqdm(), bar:
        for positions in clip_groups(questions):
            missing = [p for p in positions if rows[p].qid not in done]
            if not missing:
                continue
            clip = [questions[p] for p in positions]
            try:
                answers = _answer_clip(pipe, run, clip)
            except VideoError as error:
                if run.on_bad_video == "error":
                    raise SevilaError(f"{error}; pass --on-bad-video skip to record its questions as errors and "
                                      "go on") from error
                log.warning("skipping %d question(s) of %s: %s", len(missing), rows[positions[0]].record.video, error)
                for p in missing:
                    append_record(handle, {"qid": rows[p].qid, "video": rows[p].record.video, "error": str(error)})
                bad += len(missing)
                bar.update(len(missing))
                continue
            for p, answer in zip(positions, answers):
                if p in missing:
                    append_record(handle, _answer_record(rows[p], answer.to_json()))
                    answered += 1
                    bar.update(1)
    _summary(run.output, answered, bad, before)
    return 0


def _answer_clip(pipe: Pipeline, run: BatchRun, clip: list[Question]) -> list[Any]:
    """The Pipeline's answers for one clip; a missing file is a bad video like an unreadable one."""
    if not Path(clip[0].video).is_file():
        raise VideoError(f"{clip[0].video}: no such video file")
    return pipe.answer_clip(clip, run.num_frames, run.num_keyframes, batch_size=run.batch_size)
