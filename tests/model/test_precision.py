"""The precision policy: each part computes in its own dtype, whatever autocast the caller opened."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest
import torch
from torch import nn

from sevila import prompts
from sevila.model.precision import promoted_cat
from sevila.model.sevila import SeViLA

PAPER = (torch.float16, torch.bfloat16, torch.float16)  # ViT, T5, heads in training
OUTER = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # what a trainer may wrap around a step

# One representative module per part: what it computes in, under the paper's policy.
PROBES = {
    "vit_linear": "vision_model.encoder.layers.0.mlp.fc1",
    "vit_norm": "vision_model.encoder.layers.0.layer_norm1",
    "vit_out": "vision_model.encoder",
    "qformer_linear": "answerer.head.qformer.encoder.layer.0.crossattention.attention.query",
    "projection": "answerer.head.language_projection",
    "localizer_projection": "localizer.head.language_projection",
    "t5_in": "language_model.encoder",
    "t5_block": "language_model.encoder.block.0",
    "t5_linear": "language_model.encoder.block.0.layer.0.SelfAttention.q",
    "t5_logits": "language_model.lm_head",
}


def _batch(b: int = 1) -> tuple[list[str], list[str], torch.Tensor]:
    ps = [prompts.qa_prompts(f"what is the color {i}", ["red", "blue", "green", "circle"]) for i in range(b)]
    return [p.answerer for p in ps], [p.localizer for p in ps], torch.full((b,), 4)


def _outer(dtype: torch.dtype | None) -> Any:
    return torch.autocast("cpu", dtype=dtype) if dtype is not None else nullcontext()


def _first_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return value.last_hidden_state if hasattr(value, "last_hidden_state") else value[0]


def record_dtypes(model: nn.Module) -> dict[str, list[str]]:
    """Hooks on the PROBES: per call, the dtype of the main input (kwargs included) -> the output's."""
    seen: dict[str, list[str]] = {name: [] for name in PROBES}
    modules = dict(model.named_modules())
    for probe, path in PROBES.items():
        def hook(module, args, kwargs, output, probe=probe):
            given = args[0] if args else kwargs.get("inputs_embeds", kwargs.get("hidden_states"))
            seen[probe].append(f"{str(given.dtype)[6:]}->{str(_first_tensor(output).dtype)[6:]}")
        modules[path].register_forward_hook(hook, with_kwargs=True)
    return seen


def _run_chain(model: SeViLA, frames: torch.Tensor, outer: torch.dtype | None, answers: bool = True):
    answerer_texts, localizer_texts, num_options = _batch(frames.shape[0])
    gold = torch.tensor([1] * frames.shape[0]) if answers else None
    with _outer(outer):
        raw = model.encode_frames(frames)
        return model(raw, answerer_texts, localizer_texts, num_options, answers=gold, readout="official")


def test_paper_precision_encodes_frames_under_a_trainers_bf16_autocast(tiny_sevila):
    # The reported crash: fp16 ViT under bf16-mixed, `cat([fp16 class embedding, bf16 patches])` on CPU autocast.
    model = tiny_sevila.set_precision(torch.float16, torch.bfloat16)
    frames = torch.randn(1, 2, 3, 32, 32)
    plain = model.encode_frames(frames)
    for dtype in (torch.bfloat16, torch.float16):
        with torch.autocast("cpu", dtype=dtype):
            assert torch.equal(model.encode_frames(frames), plain)  # the ViT's own fp16 autocast, whatever the outer
    assert plain.dtype == torch.float32  # the residual stream: fp32 class/position embeddings plus fp16 branches


def test_paper_precision_casts_weights_as_the_original(tiny_sevila):
    model = tiny_sevila.set_precision(*PAPER)
    linear = {f"{name}.{p}" for name, m in model.vision_model.named_modules() if isinstance(m, nn.Linear)
              for p, _ in m.named_parameters()}
    vit = {name: p.dtype for name, p in model.vision_model.named_parameters()}
    assert {name for name, dtype in vit.items() if dtype == torch.float16} == linear
    assert {name for name, dtype in vit.items() if dtype == torch.float32} >= {
        "embeddings.class_embedding", "embeddings.position_embedding", "embeddings.patch_embedding.weight",
        "encoder.layers.0.layer_norm1.weight", "post_layernorm.bias"}
    assert {p.dtype for p in model.language_model.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in [*model.localizer.parameters(), *model.answerer.parameters()]} == {torch.float32}


@pytest.mark.parametrize("outer", list(OUTER))
def test_each_part_computes_in_the_paper_policy_dtype_whatever_the_outer_autocast(tiny_sevila, outer):
    model = tiny_sevila.set_precision(*PAPER)
    seen = record_dtypes(model)
    frames = torch.randn(1, 3, 3, 32, 32)
    _run_chain(model.train(), frames, OUTER[outer])  # a training step: heads in fp16
    _run_chain(model.eval(), frames, OUTER[outer])  # evaluation: heads in fp32
    assert seen == {
        "vit_linear": ["float32->float16"] * 2,  # fp32 stream in, fp16 matmul
        "vit_norm": ["float32->float32"] * 2,
        "vit_out": ["float32->float32"] * 2,
        "qformer_linear": ["float32->float16", "float32->float32"],  # the Answerer's: train, then eval
        "projection": ["float32->float16"] + ["float32->float32"],
        "localizer_projection": ["float32->float16"] + ["float32->float32"],  # frozen or not, it follows the step
        # bf16 text with fp16 / fp32 queries promotes to fp32 (as CUDA's cat does), so the encoder's residual
        # stream is fp32 as in the original; its norms hand bf16 to the matmuls; bf16 logits. Localizer, Answerer x2.
        "t5_in": ["float32->bfloat16"] * 4,
        "t5_block": ["float32->float32"] * 4,
        "t5_linear": ["bfloat16->bfloat16"] * 4,
        "t5_logits": ["bfloat16->bfloat16"] * 4,
    }


@pytest.mark.parametrize("outer", ["bf16", "fp16"])
def test_float32_policy_ignores_an_outer_autocast(tiny_sevila, outer):
    # The demo: every part in plain fp32 even if a trainer wraps the step in autocast; bit-identical outputs.
    frames = torch.randn(2, 3, 3, 32, 32)
    seen = record_dtypes(tiny_sevila)
    torch.manual_seed(0)
    plain = _run_chain(tiny_sevila.train(), frames, None)
    torch.manual_seed(0)
    wrapped = _run_chain(tiny_sevila, frames, OUTER[outer])
    assert {call for calls in seen.values() for call in calls} == {"float32->float32"}
    for name in ("option_logits", "frame_scores", "loss"):
        assert torch.equal(getattr(plain, name), getattr(wrapped, name)), name


def test_promoted_cat_promotes_half_types_even_under_cpu_autocast():
    half, brain = torch.ones(1, 2, dtype=torch.float16), torch.ones(1, 3, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="Unexpected floating ScalarType"):
            torch.cat([brain, half], dim=1)
        assert promoted_cat([brain, half], dim=1).dtype == torch.float32
    assert promoted_cat([brain, brain], dim=1).dtype == torch.bfloat16


@pytest.mark.parametrize("outer", list(OUTER))
def test_the_official_read_out_runs_the_t5_in_its_own_dtype_whatever_the_outer_autocast(tiny_sevila, outer):
    # Evaluation's read-out (greedy step 0, then step 1) is a T5 call of its own: it must enter the T5's autocast
    # too, or a trainer's fp16 autocast (16-mixed) would run the bf16 T5's matmuls in fp16.
    model = tiny_sevila.set_precision(*PAPER).eval()
    frames = torch.randn(2, 3, 3, 32, 32)
    plain = _run_chain(model, frames, None, answers=False)
    seen = record_dtypes(model)
    wrapped = _run_chain(model, frames, OUTER[outer], answers=False)
    assert set(seen["t5_linear"]) == {"bfloat16->bfloat16"} and set(seen["t5_logits"]) == {"bfloat16->bfloat16"}
    assert torch.equal(plain.option_logits, wrapped.option_logits)


@pytest.mark.parametrize("outer", ["bf16", "fp16"])
def test_float32_official_read_out_ignores_an_outer_autocast(tiny_sevila, outer):
    frames = torch.randn(2, 3, 3, 32, 32)
    plain = _run_chain(tiny_sevila.eval(), frames, None, answers=False)
    seen = record_dtypes(tiny_sevila)
    wrapped = _run_chain(tiny_sevila, frames, OUTER[outer], answers=False)
    assert {call for calls in seen.values() for call in calls} == {"float32->float32"}
    assert torch.equal(plain.option_logits, wrapped.option_logits)
