"""The demo backbone: its pre-training lowers the loss, and the saved folder is a BLIP-2 that `load_blip2` reads."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import torch

from sevila.demo.benchmark import SyntheticSettings, frame_examples
from sevila.demo.cli import backbone_complete, backbone_main
from sevila.demo.backbone import (
    BackboneTraining,
    build_backbone,
    fit,
    heldout_accuracy,
    lettered_question,
    pretrain_backbone,
)
from sevila import prompts
from sevila.model.backbone import load_blip2
from sevila.model.sevila import SeViLA
from sevila.model.tiny import TinySize

SMALL = BackboneTraining(
    size=TinySize(image_size=32, patch_size=8, vision_width=32, vision_layers=1, qformer_width=32, qformer_layers=1,
                  num_query_tokens=4, text_width=32),
    steps=3,
    batch_size=8,
    examples=64,
)


def test_saved_backbone_loads_as_blip2_and_reproduces_its_accuracies(tmp_path: Path) -> None:
    accuracy = pretrain_backbone(tmp_path, SMALL)
    assert set(accuracy) == {"yes_no_accuracy", "option_accuracy"}
    assert all(0.0 <= value <= 100.0 for value in accuracy.values())
    parts = load_blip2(tmp_path)
    t5 = parts.language_model
    assert t5.config.dense_act_fn == "gelu"
    # transformers 5 reads the sub-config's tie_word_embeddings back as True; what counts is the weights themselves.
    assert t5.lm_head.weight.data_ptr() != t5.shared.weight.data_ptr()
    assert not torch.equal(t5.lm_head.weight, t5.shared.weight)
    # The held-out frames pretrain_backbone scores: the reloaded folder must give the very same numbers.
    heldout = frame_examples(SyntheticSettings(seed=SMALL.seed + 1), 256, seed=SMALL.seed + 10_000)
    assert heldout_accuracy(SeViLA(parts).eval(), heldout, seed=SMALL.seed + 1) == accuracy


def test_pretraining_lowers_the_loss_and_leaves_the_localizer_alone() -> None:
    training = replace(SMALL, steps=30)
    _, model = build_backbone(training)
    localizer = {name: p.detach().clone() for name, p in model.localizer.named_parameters()}
    vit = model.vision_model.embeddings.patch_embedding.weight.detach().clone()
    losses = fit(model, frame_examples(SyntheticSettings(seed=1), training.examples, seed=0), training)
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    assert not torch.equal(model.vision_model.embeddings.patch_embedding.weight, vit)
    assert all(torch.equal(p, localizer[name]) for name, p in model.localizer.named_parameters())


def test_lettered_question_is_the_answerer_prompt_with_the_gold_option_as_target() -> None:
    event = next(e for e in frame_examples(SyntheticSettings(seed=1), 20, seed=0) if e.event)
    rng = random.Random(0)
    for qtype, gold in (("Color", event.colour), ("Shape", event.shape)):
        question, word, text, target = lettered_question(event, qtype, rng)
        options = re.findall(r"Option [A-E]: (\w+)\.", text)
        assert word == gold and len(set(options)) == 5
        assert text == prompts.qa_prompts(question, [o + "." for o in options]).answerer
        assert target == prompts.answer_target(options.index(gold))


def test_demo_backbone_skips_only_a_complete_folder(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "backbone"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # save_pretrained writes it first: a killed run leaves it alone
    assert not backbone_complete(folder)
    (folder / "pretraining.json").write_text('{"yes_no_accuracy": 90.0}')  # written last
    assert backbone_complete(folder)
    before = sorted((path.name, path.stat().st_mtime_ns) for path in folder.iterdir())
    with caplog.at_level("INFO"):
        assert backbone_main(["--output", str(folder), "--seed", "1"]) == 0
    assert sorted((path.name, path.stat().st_mtime_ns) for path in folder.iterdir()) == before
    assert "is complete, skipping" in caplog.text
