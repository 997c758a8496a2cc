"""Run several `sevila` command lines in ONE fresh Python process, each with its own real stderr (file descriptor 2).

A subprocess shows what a user's terminal shows (log lines, transformers' warnings, progress bars, C-level
output), which in-process runs under pytest hide; one process for a group of cases pays the imports once.
Usage from a test: `run_batch([[verb, *args], ...], cwd)` -> [(exit code, stdout, stderr), ...].
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_batch(cases: list[list[str]], cwd: Path, timeout: int = 300) -> list[tuple[int, str, str]]:
    """Each case's exit code, stdout and stderr, run one after the other in a single `sevila` process."""
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "cases.json"
        spec.write_text(json.dumps({"cases": cases, "out": folder}))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, __file__, str(spec)], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr
        codes = json.loads(done.stdout.splitlines()[-1])
        return [(code, _read(folder, i, "out"), _read(folder, i, "err")) for i, code in enumerate(codes)]


def _read(folder: str, index: int, stream: str) -> str:
    return (Path(folder) / f"{index}.{stream}").read_text(encoding="utf-8", errors="replace")


def _main(spec_path: str) -> None:
    from sevila.cli import main

    spec = json.loads(Path(spec_path).read_text())
    saved = os.dup(1), os.dup(2)
    codes = []
    for index, case in enumerate(spec["cases"]):
        for fd, stream in ((1, "out"), (2, "err")):
            target = os.open(Path(spec["out"]) / f"{index}.{stream}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(target, fd)
            os.close(target)
        try:
            codes.append(main(case))
        except SystemExit as exit_:  # argparse --help and the like
            codes.append(exit_.code if isinstance(exit_.code, int) else 1)
        except BaseException:  # a traceback is what the user would see: keep it in the case's stderr
            import traceback

            traceback.print_exc()
            codes.append(1)
        sys.stdout.flush()
        sys.stderr.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    print(json.dumps(codes))


if __name__ == "__main__":
    _main(sys.argv[1])
