"""`sevila predict --questions`: JSON Lines answers, killed and resumed runs, bad videos, the progress bar."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from video_factory import write_indexed_video, write_random_bytes

from sevila.cli import main
from sevila.predict_batch import written_qids

TESTS = Path(__file__).resolve().parent
NUM_VIDEOS, PER_VIDEO = 3, 3


def _questions(root: Path, bad: str | None = None) -> Path:
    """root/videos/v{0,1,2}.mp4 and root/questions.jsonl: 3 questions each, mixed option counts, one span."""
    (root / "videos").mkdir(parents=True)
    rows = []
    for v in range(NUM_VIDEOS):
        name = f"v{v}.mp4"
        if name == bad:
            write_random_bytes(root / "videos" / name)
        else:
            write_indexed_video(root / "videos" / name, num_frames=30 + 6 * v, fps=10, size=(64, 48))
        for q in range(PER_VIDEO):
            row = {"qid": f"q{v}{q}", "video": name, "question": "what is the color",
                   "options": ["red", "blue", "green", "circle"][: 2 + q], "answer": q % 2}
            rows.append(row | ({"start": 0.5, "end": 2.0} if q == 2 else {}))
    (root / "questions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root / "questions.jsonl"


def _argv(backbone: Path, questions: Path, output: Path, *extra: str) -> list[str]:
    return ["predict", "--questions", str(questions), "--video-dir", str(questions.parent / "videos"),
            "--output", str(output), "--backbone", str(backbone), "--num-frames", "6", "--num-keyframes", "2",
            "--batch-size", "2", *extra]


def _subprocess(argv: list[str], kill_at_fsync: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    """A real `sevila` process (optionally SIGKILLed at its n-th fsync), one thread as every run here."""
    prelude = f"import kill_switch; kill_switch.kill_at_fsync({kill_at_fsync}); " if kill_at_fsync else ""
    code = prelude + f"import sys; from sevila.cli import main; sys.exit(main({argv!r}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], env=env, text=True, timeout=600, **kwargs)


@pytest.mark.slow
def test_predict_batch_killed_mid_run_resumes_to_the_same_output(tmp_path, lively_backbone_dir):
    questions = _questions(tmp_path / "data")
    whole, killed = tmp_path / "whole.jsonl", tmp_path / "killed.jsonl"
    assert _subprocess(_argv(lively_backbone_dir, questions, whole), capture_output=True).returncode == 0
    first = _subprocess(_argv(lively_backbone_dir, questions, killed), kill_at_fsync=4, capture_output=True)
    assert first.returncode == -signal.SIGKILL
    assert len(killed.read_text().splitlines()) == 4  # clip v0 whole and one question of v1
    resumed = _subprocess(_argv(lively_backbone_dir, questions, killed), capture_output=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{killed}: 5 answered, 0 error records (unreadable videos), 4 already there" in resumed.stderr
    assert killed.read_bytes() == whole.read_bytes()
    records = [json.loads(line) for line in whole.read_text().splitlines()]
    assert [r["qid"] for r in records] == [f"q{v}{q}" for v in range(NUM_VIDEOS) for q in range(PER_VIDEO)]
    assert [len(r["option_probs"]) for r in records] == [2, 3, 4] * NUM_VIDEOS
    assert all(r["target"] == int(r["qid"][2]) % 2 and len(r["keyframes"]) == 2 for r in records)
    assert all(5 <= k["index"] < 20 for r in records if r["qid"].endswith("2") for k in r["keyframes"])  # the span


@pytest.fixture(autouse=True)
def _info_logs(caplog):
    caplog.set_level(logging.INFO, logger="sevila.predict_batch")


def test_predict_batch_drops_a_partial_last_line_and_rewrites_it(tmp_path, lively_backbone_dir, caplog):
    questions = _questions(tmp_path / "data")
    output = tmp_path / "preds.jsonl"
    assert main(_argv(lively_backbone_dir, questions, output)) == 0
    complete = output.read_bytes()
    lines = complete.splitlines(keepends=True)
    output.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # killed while writing the last
    assert written_qids(output) == {f"q{v}{q}" for v in range(NUM_VIDEOS) for q in range(PER_VIDEO)} - {"q22"}
    assert output.read_bytes() == b"".join(lines[:-1])
    assert main(_argv(lively_backbone_dir, questions, output)) == 0
    assert output.read_bytes() == complete
    assert "dropped a partial last line" in caplog.text
    assert "1 answered, 0 error records (unreadable videos), 8 already there" in caplog.text


def test_predict_batch_skips_a_bad_video_with_error_records(tmp_path, lively_backbone_dir, capsys, caplog):
    questions = _questions(tmp_path / "data", bad="v1.mp4")
    output = tmp_path / "preds.jsonl"
    assert main(_argv(lively_backbone_dir, questions, output, "--on-bad-video", "skip")) == 0
    records = [json.loads(line) for line in output.read_text().splitlines()]
    errors = [r for r in records if "error" in r]
    assert [r["qid"] for r in errors] == ["q10", "q11", "q12"]
    assert all(r["video"] == "v1.mp4" and "not a readable video" in r["error"] for r in errors)
    assert len([r for r in records if "answer" in r]) == 6
    # v1.mp4 is two clips: the whole video (q10, q11) and q12's span
    assert "skipping 2 question(s) about v1.mp4: " in caplog.text and "skipping 1 question(s) about v1.mp4: " in caplog.text
    assert "6 answered, 3 error records" in caplog.text
    assert "questions/s" not in capsys.readouterr().err  # no progress bar off a terminal


def test_predict_batch_stops_at_a_bad_video_by_default(tmp_path, lively_backbone_dir, capsys):
    questions = _questions(tmp_path / "data", bad="v1.mp4")
    output = tmp_path / "preds.jsonl"
    assert main(_argv(lively_backbone_dir, questions, output)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("sevila predict: error: ") and "v1.mp4" in err and "--on-bad-video skip" in err
    assert [json.loads(line)["qid"] for line in output.read_text().splitlines()] == ["q00", "q01", "q02"]


def test_predict_batch_reads_csv_and_shows_questions_per_second_on_a_terminal(tmp_path, lively_backbone_dir):
    questions = _questions(tmp_path / "data")
    csv = questions.with_suffix(".csv")
    csv.write_text("video,question,options,qid\nv0.mp4,what is the color,red|blue|green,a\n"
                   "v2.mp4,what is the shape,circle|square,b\n")
    output = tmp_path / "preds.jsonl"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal 120 columns wide
    process = subprocess.Popen([sys.executable, "-m", "sevila.cli", *_argv(lively_backbone_dir, csv, output)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while select.select([master], [], [], 300)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=300) == 0
    assert b"predict: 100%" in shown and b"2/2" in shown and b"questions/s]" in shown
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["qid"], r["answer_text"] in ("red", "blue", "green", "circle", "square")) for r in records] == [
        ("a", True), ("b", True)]
    assert all("target" not in r for r in records)  # no answer column: nothing to score


@pytest.mark.parametrize(("extra", "message"), [
    (["--video", "x.mp4"], "--questions answers a file of questions: drop --video"),
    (["--output", None], "--questions needs --output preds.jsonl"),
])
def test_predict_batch_flag_mistakes_are_one_line(tmp_path, lively_backbone_dir, capsys, extra, message):
    questions = _questions(tmp_path / "data")
    argv = _argv(lively_backbone_dir, questions, tmp_path / "p.jsonl")
    if extra[1] is None:
        index = argv.index(extra[0])
        argv = argv[:index] + argv[index + 2:]
    else:
        argv += extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_predict_batch_refuses_an_output_that_is_not_its_own(tmp_path, lively_backbone_dir, capsys):
    questions = _questions(tmp_path / "data")
    output = tmp_path / "notes.jsonl"
    output.write_text('{"qid": "q00"}\nhello\n')
    assert main(_argv(lively_backbone_dir, questions, output)) == 2
    assert f"{output}: line 2 is not a prediction record with a qid" in capsys.readouterr().err
