"""Stage 3 with a gated pseudo-label rule: its labels, their own cache folder, and a bad threshold at start."""

from __future__ import annotations

import json
import logging

import lightning as L
import pytest
import torch
from stage_runner import run_stage, write_overlay

from sevila.data.datamodules import DemoQA
from sevila.model.sevila import SeViLA
from sevila.stages import RefineLocalizer
from sevila.stages.pseudo_labels import PRODUCER_FILE, PseudoLabelCache

SHARD = "pseudo_labels.rank0.json"


def _data(benchmark) -> DemoQA:
    return DemoQA(str(benchmark / "qa"), str(benchmark / "videos"), num_frames=4, frame_size=32, batch_size=2,
                  num_workers=0, random_train_frames=False)


def _gold_probabilities(model: SeViLA, benchmark) -> dict[str, float]:
    """The frozen Answerer's gold-option probability on each training (question, midpoint frame), -1 if not argmax."""
    model.eval()
    data = _data(benchmark)
    data.setup("fit")
    gold: dict[str, float] = {}
    for batch in data.train_dataloader():
        raw = model.encode_frames(batch["frames"])
        with torch.no_grad():
            logits = model.answerer.per_frame(raw, batch["answerer_text"], batch["num_options"])  # (B, T, 5)
        for qid, indices, row, answer in zip(batch["qid"], batch["frame_indices"].tolist(), logits, batch["answer"]):
            for index, frame in zip(indices, row):
                wins = frame.argmax().item() == answer.item()
                gold[PseudoLabelCache.key(qid, index)] = frame.softmax(-1)[answer].item() if wins else -1.0
    return gold


def _fit(tmp_path, backbone, benchmark, **model) -> RefineLocalizer:
    module = RefineLocalizer(backbone=str(backbone), num_keyframes=2, warmup_steps=1,
                             cache_dir=str(tmp_path / "labels"), **model)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, default_root_dir=str(tmp_path), limit_val_batches=0)
    trainer.fit(module, _data(benchmark))
    return module


def test_confidence_rule_labels_a_subset_of_the_papers_in_its_own_cache(tmp_path, tiny_backbone_dir, tiny_benchmark,
                                                                       caplog):
    paper = _fit(tmp_path, tiny_backbone_dir, tiny_benchmark)
    assert paper.answerer_calls == 6
    gold = _gold_probabilities(paper.model, tiny_benchmark)  # stage 3 trains the Localizer only: same Answerer
    winners = sorted(p for p in gold.values() if p >= 0)
    assert len(winners) >= 2, winners  # the tiny Answerer is right on some frames alone, so a gate can split them
    threshold = (winners[len(winners) // 2 - 1] + winners[len(winners) // 2]) / 2  # between two, far from both
    paper_labels = json.loads((tmp_path / "labels" / SHARD).read_text())
    assert paper_labels == {key: p >= 0 for key, p in gold.items()} and len(paper_labels) == 6 * 4

    with caplog.at_level(logging.INFO, logger="sevila.stages.refine_localizer"):
        gated = _fit(tmp_path, tiny_backbone_dir, tiny_benchmark, pseudo_label_rule="confidence",
                     pseudo_label_threshold=threshold)
    folder = tmp_path / "labels" / f"confidence-{threshold!r}"
    assert f"pseudo-labels by the confidence rule (threshold {threshold!r}), cached in {folder}" in caplog.text
    assert gated.answerer_calls == 6  # the paper's cached labels are not reused: every question is labelled again
    gated_labels = json.loads((folder / SHARD).read_text())
    assert gated_labels == {key: p >= threshold for key, p in gold.items()}
    positives, paper_positives = ({k for k, v in labels.items() if v} for labels in (gated_labels, paper_labels))
    assert positives < paper_positives and positives  # a strict, non-empty subset on the same frames
    producer = json.loads((folder / PRODUCER_FILE).read_text())
    assert (producer["pseudo_label_rule"], producer["pseudo_label_threshold"]) == ("confidence", threshold)
    paper_producer = json.loads((tmp_path / "labels" / PRODUCER_FILE).read_text())
    assert not {"pseudo_label_rule", "pseudo_label_threshold"} & paper_producer.keys()  # old caches stay valid
    assert json.loads((tmp_path / "labels" / SHARD).read_text()) == paper_labels  # untouched, still reusable


@pytest.mark.parametrize(("rule", "flag", "message"), [
    ("confidence", "--model.init_args.pseudo_label_threshold=1.5",
     "model.pseudo_label_threshold is 1.5 but pseudo_label_rule 'confidence' compares it with a probability"),
    ("margin", "--model.init_args.pseudo_label_threshold=-1",
     "model.pseudo_label_threshold is -1.0 but pseudo_label_rule 'margin' compares it with a logit difference"),
])
def test_refine_refuses_a_bad_threshold_in_one_line_before_any_work(tmp_path, tiny_benchmark, capsys, rule, flag,
                                                                   message):
    backbone = tmp_path / "no_backbone"  # never read: the threshold is refused before the backbone loads
    overlay = write_overlay(tmp_path / "s3.yaml", backbone, tiny_benchmark, "qa",
                            model={"cache_dir": str(tmp_path / "labels"), "pseudo_label_rule": rule},
                            trainer={"default_root_dir": str(tmp_path / "s3")})
    assert run_stage("fit", "refine_localizer", "demo_qa", overlay, flag) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "labels" / PRODUCER_FILE).exists() and not list((tmp_path / "labels").glob("*.json"))
