"""The README's Python API example runs as written on a demo-profile layout (tiny backbone, tiny trained heads)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from profile_factory import make_demo_profile

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    """The first ```python block of the README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("### Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md: no ```python block under ### Python API"
    return match.group(1)


def test_readme_example_runs_on_the_demo_profile(tmp_path, lively_backbone_dir, monkeypatch):
    code = readme_python_example()
    assert len(code.strip().splitlines()) <= 10
    make_demo_profile(tmp_path, lively_backbone_dir)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})
    lines = printed.getvalue().splitlines()
    assert len(lines) == 1 + 4 + 1  # answer and probabilities, four keyframes, the batch's answers
    answer, probs = lines[0].split(" ", 1)
    assert answer in ("blue.", "cyan.", "green.", "purple.", "red.") and len(eval(probs)) == 5
    assert all(re.fullmatch(r"frame \d+ at \d+\.\d\d s, Localizer score -?\d+\.\d\d", line) for line in lines[1:5])
    batch = eval(lines[5])
    assert len(batch) == 2 and batch[0] in ("ring.", "triangle.", "diamond.", "square.", "circle.")
    assert batch[1] in ("red.", "cyan.")
