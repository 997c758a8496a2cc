"""`sevila fit --model.help CLASS` / `--data.help CLASS` document every flag of every stage and DataModule."""

from __future__ import annotations

import re

import pytest

from sevila.cli import main

STAGES = ("PretrainLocalizer", "FinetuneAnswerer", "RefineLocalizer", "Evaluate")
METAVAR = re.compile(r"[A-Z_]+|\{.*\}|\[.*\]")  # NAME, {a,b} or [ITEM,...] after the flag
DATAMODULES = ("NExTQA", "NExTGQA", "STAR", "How2QA", "TVQA", "VLEP", "DemoQA", "QVHighlights")


def flag_help(text: str, group: str) -> dict[str, str]:
    """`--group.flag` -> the description argparse prints before its `(type: ..., default: ...)`."""
    entries = re.split(rf"\n  (?=--{group}\.)", text)
    found = {}
    for entry in entries[1:]:
        flag, *words = entry.split()
        if words and METAVAR.fullmatch(words[0]):
            words = words[1:]
        found[flag] = " ".join(words).split("(type:")[0].strip()
    return found


@pytest.mark.parametrize(("group", "name"), [("model", f"sevila.stages.{s}") for s in STAGES]
                         + [("data", f"sevila.data.datamodules.{d}") for d in DATAMODULES])
def test_every_flag_has_a_description(group, name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", f"--{group}.help", name])
    assert exit_.value.code == 0
    found = flag_help(capsys.readouterr().out, group)
    assert len(found) >= 5, found
    undocumented = sorted(flag for flag, description in found.items() if not description)
    assert not undocumented, undocumented
