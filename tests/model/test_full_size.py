"""The full-size SeViLA on blip2-flan-t5-xl, built on the meta device (nothing allocated): structure and sizes."""

from __future__ import annotations

import pytest
from torch import nn
from transformers import Blip2ForConditionalGeneration

from sevila.model.full_size import meta_blip2, meta_sevila
from sevila.model.sevila import SeViLA
from sevila.model.tokenizer import build_tokenizer
from sevila.stages import Evaluate, FinetuneAnswerer, PretrainLocalizer, RefineLocalizer

VIT = 985_952_256  # 39 EVA blocks of width 1408 + patch/pos embeddings + post_layernorm
QFORMER = 105_137_664  # 12 layers of 768, cross-attention every 2nd layer to 1408-wide ViT tokens
HEAD = 106_739_968  # Q-Former + 32x768 queries (24,576) + 768->2048 projection (1,574,912) + LN (2,816)
T5 = 2_849_757_184  # Flan-T5-XL with its own (untied) lm_head
BLIP2 = VIT + QFORMER + 24_576 + 1_574_912 + T5  # 3,942,446,592
TOTAL = VIT + 2 * HEAD + T5  # 4,049,189,376: BLIP-2's Q-Former is replaced by two copies of its head


def _count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


@pytest.fixture(scope="module")
def blip2() -> Blip2ForConditionalGeneration:
    return meta_blip2()


@pytest.fixture(scope="module")
def sevila() -> SeViLA:
    # The real T5 tokenizer is not available offline; the tiny local one only satisfies the constructor's
    # token-id look-ups (yes / no / Option X), which play no part in the structure checked here.
    return meta_sevila(build_tokenizer())


def test_full_size_config_keeps_the_fidelity_settings(blip2: Blip2ForConditionalGeneration) -> None:
    text, vision = blip2.config.text_config, blip2.config.vision_config
    assert (text.dense_act_fn, text.is_gated_act, text.scale_decoder_outputs) == ("gelu", True, False)
    assert (vision.num_hidden_layers, vision.hidden_size, vision.layer_norm_eps) == (39, 1408, 1e-6)
    assert blip2.language_model.lm_head.weight is not blip2.language_model.shared.weight


def test_full_size_blip2_parameter_counts(blip2: Blip2ForConditionalGeneration) -> None:
    assert all(p.device.type == "meta" for p in blip2.parameters())
    assert (_count(blip2.vision_model), _count(blip2.qformer), _count(blip2.language_model)) == (VIT, QFORMER, T5)
    assert _count(blip2) == BLIP2


def test_full_size_sevila_parameter_counts(sevila: SeViLA) -> None:
    assert all(p.device.type == "meta" for p in sevila.parameters())
    assert _count(sevila.localizer.head) == _count(sevila.answerer.head) == HEAD
    assert round(100 * HEAD / TOTAL, 2) == 2.64  # one head's share; the paper says 106M of 4.1B, "2.5%"
    assert _count(sevila.answerer.head.qformer) == QFORMER
    assert (_count(sevila.vision_model), _count(sevila.language_model)) == (VIT, T5)
    assert _count(sevila) == TOTAL
    assert (sevila.localizer.head.layernorm.eps, sevila.answerer.head.query_tokens.shape) == (1e-5, (1, 32, 768))


@pytest.mark.parametrize(
    ("stage", "trained"),
    [
        (PretrainLocalizer, "localizer"),
        (FinetuneAnswerer, "answerer"),
        (RefineLocalizer, "localizer"),
        (Evaluate, None),
    ],
)
def test_full_size_stage_trains_one_head(sevila: SeViLA, stage: type, trained: str | None) -> None:
    # SevilaStage.__init__ freezes with this same call; the stage itself would load real weights.
    sevila.train_only(stage.trains)
    trainable = {n.split(".")[0] for n, p in sevila.named_parameters() if p.requires_grad}
    assert trainable == ({trained} if trained else set())
    assert _count(sevila, trainable_only=True) == (HEAD if trained else 0)
