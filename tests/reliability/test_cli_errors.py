"""The `sevila` command as a user runs it: a bad input is one stderr line and exit code 2; --debug shows the traceback.

Each `sevila fit` subprocess costs seconds of imports, so one stands for the config-time refusals; the others
(unknown YAML key, k > n, bad checkpoints) run in-process in test_bad_checkpoints_configs.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stage_runner import STAGES, write_overlay

REPO = STAGES.parent


def _sevila(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sevila.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_bad_annotation_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "val.json").write_text('[{"qid": "Color_v0_0"}]')
    result = _sevila("data", "check", "star", "--annotations", str(tmp_path / "val.json"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sevila data: error: {tmp_path}/val.json: record 1 (qid Color_v0_0): missing field 'question'; "
        "expected the question text"
    ]


def test_cli_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "val.json").write_text('[{"qid": "Color_v0_0"}]')
    result = _sevila("data", "check", "star", "--annotations", str(tmp_path / "val.json"), "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("sevila.errors.SevilaError: ")


def test_cli_truncated_checkpoint_is_one_line_exit_2(tmp_path: Path, tiny_backbone_dir: Path, bad_benchmark: Path):
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(b"PK\x03\x04" + bytes(60))  # a zip header and nothing after: a cut-off download
    overlay = write_overlay(tmp_path / "overlay.yaml", tiny_backbone_dir, bad_benchmark, "qa")
    result = _sevila("fit", "-c", str(STAGES / "data" / "demo_qa.yaml"), "-c", str(STAGES / "finetune_answerer.yaml"),
                     "-c", str(overlay), "--ckpt_path", str(cut))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()  # refused before the model is built: nothing else is printed
    assert line.startswith(f"sevila fit: error: {cut}: not a readable checkpoint (")
