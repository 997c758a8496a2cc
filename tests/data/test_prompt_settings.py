"""Prompts as configuration: `localizer_prompt` / `answerer_prompt` of the QA DataModules (paper Table 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_runner import run_stage, write_overlay
from video_factory import write_indexed_video

from sevila import prompts
from sevila.data.annotations import QARecord
from sevila.data.datamodules import VLEP, DemoQA, VideoQADataModule
from sevila.errors import SevilaError

OPTIONS = ("a red ball.", "a blue cup.", "a green hat.")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    write_indexed_video(folder / "v0.mp4", 8, fps=8)
    (folder / "tvqa").mkdir()
    write_indexed_video(folder / "tvqa" / "v0.mp4", 8, fps=8)  # VLEP's layout (`sevila.data.video_paths`)
    return folder


def _val_batch(module: type[VideoQADataModule], root: Path, videos: Path, **settings: str) -> dict:
    question = "what does the man hold?"  # VLEP's event prompts leave it out
    record = QARecord("Shape_v0_0", "v0", question, OPTIONS[:2] if module is VLEP else OPTIONS, 1, None, None, "Shape")
    (root / "ann").mkdir(parents=True, exist_ok=True)
    (root / "ann" / "val.json").write_text(json.dumps([record.to_json()]), encoding="utf-8")
    data = module(str(root / "ann"), str(videos), num_frames=2, frame_size=32, batch_size=1, num_workers=0, **settings)
    data.setup("validate")
    return next(iter(data.val_dataloader()))


def test_default_prompts_are_byte_identical_to_the_papers(tmp_path, videos):
    batch = _val_batch(DemoQA, tmp_path, videos)
    paper = prompts.qa_prompts("what does the man hold?", OPTIONS)
    assert batch["localizer_text"] == [paper.localizer] and batch["answerer_text"] == [paper.answerer]
    assert paper.localizer.endswith(
        ") Does the information within the frame provide the necessary details to accurately answer the given question?")


def test_a_named_localizer_wording_changes_only_the_localizer_text(tmp_path, videos):
    batch = _val_batch(DemoQA, tmp_path, videos, localizer_prompt="relevant")
    assert batch["localizer_text"] == [
        "Question: what does the man hold? Options: (a red ball. a blue cup. a green hat. ) "
        "Is this frame relevant to answering the question?"
    ]
    assert batch["answerer_text"] == [prompts.qa_prompts("what does the man hold?", OPTIONS).answerer]


def test_a_literal_wording_is_used_as_given(tmp_path, videos):
    batch = _val_batch(DemoQA, tmp_path, videos, localizer_prompt="  Can you see the answer here?",
                       answerer_prompt="Pick one option.")
    assert batch["localizer_text"][0].endswith("green hat. ) Can you see the answer here?")
    assert batch["answerer_text"] == [
        "Question: what does the man hold? Option A: a red ball. Option B: a blue cup. Option C: a green hat. "
        "Pick one option."
    ]


def test_event_benchmarks_keep_their_own_paper_wording_and_take_a_new_one(tmp_path, videos):
    paper = _val_batch(VLEP, tmp_path / "paper", videos)
    assert paper["localizer_text"] == [prompts.event_prompts(OPTIONS[:2]).localizer]
    short = _val_batch(VLEP, tmp_path / "short", videos, localizer_prompt="relevant", answerer_prompt="short")
    assert short["answerer_text"] == ["Select the correct answer from the options. Option A: a red ball. "
                                      "Option B: a blue cup."]
    assert short["localizer_text"] == [short["answerer_text"][0] + " Is this frame relevant to answering the question?"]


def test_every_named_wording_resolves_to_its_sentence():
    for table in (prompts.LOCALIZER_WORDINGS, prompts.ANSWERER_WORDINGS):
        assert prompts.wording("paper", table, "x") is None
        for name, text in table.items():
            if name != "paper":
                assert prompts.wording(name, table, "x") == text and len(text.split()) > 2


def test_a_misspelt_wording_name_is_refused_naming_the_flag_and_the_names(tmp_path, videos):
    with pytest.raises(SevilaError) as error:
        _val_batch(DemoQA, tmp_path, videos, localizer_prompt="relevnt")
    assert str(error.value) == (
        "--data.init_args.localizer_prompt is 'relevnt': expected one of paper, relevant, sufficient, evidence or a "
        "sentence of your own"
    )


def test_the_cli_refuses_a_bad_wording_with_one_line(tmp_path, tiny_backbone_dir, capsys):
    overlay = write_overlay(tmp_path / "overlay.yaml", tiny_backbone_dir, tmp_path, "qa",
                            model={"output_dir": str(tmp_path / "results")},
                            trainer={"default_root_dir": str(tmp_path / "results")})
    code = run_stage("test", "evaluate", "demo_qa", overlay, "--data.init_args.answerer_prompt", "brief")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--data.init_args.answerer_prompt is 'brief'" in err[0]
