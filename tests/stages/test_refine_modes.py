"""Stage 3 without a fine-tuned Answerer or a pre-trained Localizer (paper Table 5), and what its labels key on."""

from __future__ import annotations

import json
import logging

import lightning as L
import pytest
from stage_runner import run_dir, run_stage, write_overlay

from sevila.data.datamodules import DemoQA
from sevila.errors import SevilaError
from sevila.model.backbone import load_blip2
from sevila.model.digest import weights_digest
from sevila.model.head_weights import read_heads
from sevila.model.sevila import SeViLA
from sevila.stages import RefineLocalizer
from sevila.stages.pseudo_labels import PRODUCER_FILE, PseudoLabelCache


def test_refine_with_the_zero_shot_answerer_and_no_pretrained_localizer(tmp_path, tiny_backbone_dir, tiny_benchmark,
                                                                        caplog):
    refined, labels = tmp_path / "refined.safetensors", tmp_path / "labels"
    overlay = write_overlay(tmp_path / "s3.yaml", tiny_backbone_dir, tiny_benchmark, "qa",
                            model={"export_path": str(refined), "cache_dir": str(labels)},
                            trainer={"default_root_dir": str(tmp_path / "s3")})
    with caplog.at_level(logging.INFO, logger="sevila.stages.refine_localizer"):
        assert run_stage("fit", "refine_localizer", "demo_qa", overlay) == 0
    assert "pseudo-labels come from the zero-shot Answerer (BLIP-2's Q-Former as is)" in caplog.text
    assert "the Localizer starts from BLIP-2's Q-Former, not a pre-trained one" in caplog.text
    tensors, metadata = read_heads(refined)
    assert {key.split(".")[0] for key in tensors} == {"localizer"} and metadata["stage"] == "refine_localizer"
    assert (run_dir(tmp_path / "s3") / "finished.json").is_file()

    # The labels are the zero-shot Answerer's: its weights digest, and its answers on the same (midpoint) frames.
    zero_shot = SeViLA(load_blip2(tiny_backbone_dir)).eval()
    assert json.loads((labels / PRODUCER_FILE).read_text())["answerer"] == weights_digest(zero_shot.answerer)
    stored = json.loads((labels / "pseudo_labels.rank0.json").read_text())
    data = DemoQA(str(tiny_benchmark / "qa"), str(tiny_benchmark / "videos"), num_frames=4, frame_size=32,
                  batch_size=2, num_workers=0, random_train_frames=False)
    data.setup("fit")
    expected = {}
    for batch in data.train_dataloader():
        raw = zero_shot.encode_frames(batch["frames"])
        computed = zero_shot.pseudo_labels(raw, batch["answerer_text"], batch["num_options"], batch["answer"])
        for qid, indices, row in zip(batch["qid"], batch["frame_indices"].tolist(), computed.tolist()):
            expected.update({PseudoLabelCache.key(qid, index): label for index, label in zip(indices, row)})
    assert stored == expected and len(stored) == 6 * 4


def _refine(tmp_path, backbone, benchmark, **data_settings) -> RefineLocalizer:
    module = RefineLocalizer(backbone=str(backbone), num_keyframes=2, warmup_steps=1, cache_dir=str(tmp_path / "labels"))
    data = DemoQA(str(benchmark / "qa"), str(benchmark / "videos"), num_frames=4, frame_size=32, batch_size=2,
                  num_workers=0, random_train_frames=False, **data_settings)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=1, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, default_root_dir=str(tmp_path), limit_val_batches=0)
    trainer.fit(module, data)
    return module


def test_pseudo_labels_key_on_the_answerer_wording_but_not_the_localizers(tmp_path, tiny_backbone_dir, tiny_benchmark):
    _refine(tmp_path, tiny_backbone_dir, tiny_benchmark)
    producer = json.loads((tmp_path / "labels" / PRODUCER_FILE).read_text())
    assert "answerer_prompt" not in producer  # the paper's wording: caches made before the setting stay valid
    again = _refine(tmp_path, tiny_backbone_dir, tiny_benchmark, localizer_prompt="relevant")
    assert again.answerer_calls == 0  # the Localizer's wording does not change what the Answerer labels
    with pytest.raises(SevilaError, match=r"pseudo-labels were made by another model \(answerer_prompt differ"):
        _refine(tmp_path, tiny_backbone_dir, tiny_benchmark, answerer_prompt="short")

