"""Bad-input catalogue, paths: every output option refuses, before any work, a path the OS would refuse.

Classes: a name too long for the file system, a parent that is a regular file, permission denied, a folder
where a file belongs (or a file where a folder belongs), and an output that is one of the inputs. Each is one
line `OPTION PATH: what is wrong; the fix`, exit code 2, and whatever was in the way is left as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from stage_runner import run_stage, write_overlay

from sevila.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
STAR = FIXTURES / "star" / "STAR_val_sample.json"
HGA, NEXTQA_CSV = FIXTURES / "metrics" / "nextqa_hga_results.json", FIXTURES / "metrics" / "nextqa_val.csv"
STATE_DICT = FIXTURES / "oracle" / "state_dict.pt"
UNDER_A_FILE = "is a file, not a folder, so nothing can be found or created under it; choose a path inside a folder"
DENIED = "permission denied; choose a path this user may read and write, or change its permissions"
FOLDER_IN_THE_WAY = "is a folder, not a file; give a file path"
FILE_IN_THE_WAY = "already exists and is not a folder; choose another path or move it away"

# Plain verbs: (option, output suffix, argv for an output path, whether it is a folder).
PLAIN: dict[str, tuple[str, str, Callable[[Path, Path], list[str]], bool]] = {
    "prepare --output": ("--output", ".json", lambda out, backbone: [
        "prepare", "star", "--input", str(STAR), "--output", str(out)], False),
    "metrics --export": ("--export", ".json", lambda out, backbone: [
        "metrics", "nextqa", "--predictions", str(HGA), "--annotations", str(NEXTQA_CSV), "--export", str(out)], False),
    "predict --save-keyframes": ("--save-keyframes", ".png", lambda out, backbone: [
        "predict", "--video", str(out.parent / "v.mp4"), "--question", "what is it", "--option", "a", "--option", "b",
        "--backbone", str(backbone), "--save-keyframes", str(out)], False),
    "import-checkpoint --output": ("--output", ".safetensors", lambda out, backbone: [
        "import-checkpoint", "--lavis", str(STATE_DICT), "--output", str(out), "--backbone", str(backbone)], False),
    "import-checkpoint --backbone-output": ("--backbone-output", "", lambda out, backbone: [
        "import-checkpoint", "--lavis", str(STATE_DICT), "--backbone-output", str(out)], True),
}


def _long(tmp_path: Path, suffix: str) -> tuple[Path, str]:
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "n" * (limit + 45) + suffix
    reason = f"the name '{'n' * 24}...' is {len(name)} bytes, longer than the file system allows ({limit}); "
    return tmp_path / name, reason + "choose a shorter name"


def _cases(tmp_path: Path, suffix: str, folder: bool) -> dict[str, tuple[Path, str]]:
    """Each class: the output path and the reason the error line must give."""
    (tmp_path / "afile").write_text("a file someone keeps\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "kept.txt").write_text("kept\n")
    cases = {
        "name too long": _long(tmp_path, suffix),
        "parent is a file": (tmp_path / "afile" / f"out{suffix}", f"{tmp_path / 'afile'} {UNDER_A_FILE}"),
        "permission denied": (Path("/sys/sevila-test") / f"out{suffix}", DENIED),  # sysfs: refused even to root
    }
    if folder:
        cases["file in the way"] = (tmp_path / "afile", FILE_IN_THE_WAY)
    else:
        (tmp_path / f"adir{suffix}").mkdir(exist_ok=True)
        cases["folder in the way"] = (tmp_path / f"adir{suffix}", FOLDER_IN_THE_WAY)
    return cases


def _untouched(tmp_path: Path) -> None:
    assert (tmp_path / "afile").read_text() == "a file someone keeps\n"
    assert sorted(p.name for p in (tmp_path / "adir").iterdir()) == ["kept.txt"]


@pytest.mark.parametrize("target", PLAIN)
def test_plain_verb_output_refused_by_the_os_is_one_line(tmp_path, capsys, tiny_backbone_dir, target: str) -> None:
    option, suffix, argv, folder = PLAIN[target]
    for case, (out, reason) in _cases(tmp_path, suffix, folder).items():
        args = argv(out, tiny_backbone_dir)
        assert main(args) == 2, case
        assert capsys.readouterr().err.splitlines() == [f"sevila {args[0]}: error: {option} {out}: {reason}"], case
        _untouched(tmp_path)
    assert not Path("/sys/sevila-test").exists()


@pytest.mark.parametrize(("verb", "inputs"),
                         [("prepare", ["--input"]), ("metrics", ["--predictions", "--annotations"])])
def test_output_that_is_an_input_is_refused(tmp_path, capsys, verb: str, inputs: list[str]) -> None:
    for flag in inputs:
        source = {"--input": STAR, "--predictions": HGA, "--annotations": NEXTQA_CSV}[flag]
        given = tmp_path / source.name
        given.write_bytes(source.read_bytes())
        if verb == "prepare":
            args = ["prepare", "star", "--input", str(given), "--output", str(given)]
        else:
            paths = {"--predictions": HGA, "--annotations": NEXTQA_CSV, flag: given}
            args = ["metrics", "nextqa", *(str(a) for f, p in paths.items() for a in (f, p)), "--export", str(given)]
        option = "--output" if verb == "prepare" else "--export"
        assert main(args) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"sevila {verb}: error: {option} {given}: is also an input ({given}); writing it would replace that "
            "input: choose another output path"
        ]
        assert given.read_bytes() == source.read_bytes()


# Stage outputs: (verb, stage, the overlay section and key, folder?).
STAGE_OUTPUTS = {
    "trainer.default_root_dir": ("fit", "finetune_answerer", "trainer", True),
    "model.output_dir": ("test", "evaluate", "model", True),
    "model.cache_dir": ("fit", "refine_localizer", "model", True),
    "model.feature_cache": ("test", "evaluate", "model", True),
    "model.export_path": ("fit", "finetune_answerer", "model", False),
}


@pytest.mark.parametrize("option", STAGE_OUTPUTS)
def test_stage_output_refused_by_the_os_is_one_line_before_the_model(
    tmp_path, capsys, caplog, tiny_backbone_dir, bad_benchmark, option: str
) -> None:
    verb, stage, section, folder = STAGE_OUTPUTS[option]
    caplog.set_level(logging.INFO, logger="sevila")
    for case, (out, reason) in _cases(tmp_path, "" if folder else ".safetensors", folder).items():
        settings = {"model": {"output_dir": str(tmp_path / "results")} if stage == "evaluate" else {},
                    "trainer": {"default_root_dir": str(tmp_path)}}
        settings[section][option.split(".")[1]] = str(out)
        config = write_overlay(tmp_path / "overlay.yaml", tiny_backbone_dir, bad_benchmark, "qa", **settings)
        caplog.clear()
        assert run_stage(verb, stage, "demo_qa", config) == 2, case
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.splitlines()[-1] == f"sevila {verb}: error: {option} {out}: {reason}"
        assert not [r for r in caplog.records if "loaded BLIP-2" in r.getMessage()], case  # refused before the model
        _untouched(tmp_path)
