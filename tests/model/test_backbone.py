from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, Blip2ForConditionalGeneration

from sevila.errors import SevilaError
from sevila import prompts
from sevila.model.backbone import load_blip2, parts_from_model
from sevila.model.sevila import SeViLA
from sevila.model.tiny import tiny_config
from sevila.model.tokenizer import build_tokenizer


def _chain_outputs(model: SeViLA, frames: torch.Tensor):
    p = prompts.qa_prompts("what is red", ["a circle", "a square", "a star"])
    return model(model.encode_frames(frames), [p.answerer], [p.localizer], torch.tensor([3]))


def test_backbone_save_pretrained_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    tokenizer = build_tokenizer()
    model = Blip2ForConditionalGeneration(tiny_config(len(tokenizer)))
    model.language_model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.language_model.lm_head.weight))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    in_memory = SeViLA(parts_from_model(model, tokenizer, "memory"), num_keyframes=2).eval()
    reloaded = SeViLA(load_blip2(tmp_path), num_keyframes=2).eval()
    frames = torch.randn(1, 4, 3, 32, 32)
    a, b = _chain_outputs(in_memory, frames), _chain_outputs(reloaded, frames)
    assert torch.equal(a.frame_scores, b.frame_scores)
    assert torch.equal(a.option_logits, b.option_logits)


def test_backbone_t5_matches_flan_t5_numerics(tiny_backbone_dir):
    parts = load_blip2(tiny_backbone_dir)
    t5 = parts.language_model
    assert t5.config.dense_act_fn == "gelu"
    assert t5.lm_head.weight.data_ptr() != t5.shared.weight.data_ptr()
    assert not torch.equal(t5.lm_head.weight, t5.shared.weight)
    assert parts.vision_norm.eps == 1e-5 and parts.qformer.layernorm.eps == 1e-12


def test_backbone_vision_norm_copies_post_layernorm(tiny_backbone_dir):
    parts = load_blip2(tiny_backbone_dir)
    assert torch.equal(parts.vision_norm.weight, parts.vision_model.post_layernorm.weight)
    assert parts.vision_norm is not parts.vision_model.post_layernorm


def test_backbone_missing_directory_names_the_fix(tmp_path):
    with pytest.raises(SevilaError, match="no config.json"):
        load_blip2(tmp_path)


def test_backbone_tokenizer_loads_with_auto_tokenizer(tiny_backbone_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone_dir)
    assert tokenizer.convert_ids_to_tokens(tokenizer("yes").input_ids) == ["▁yes", "</s>"]
