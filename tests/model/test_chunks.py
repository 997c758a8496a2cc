"""Chunked frozen passes (`SeViLA.chunk_size`): the same outputs as all at once, in calls of at most that many rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sevila import prompts
from sevila.errors import SevilaError
from sevila.model.backbone import load_blip2
from sevila.model.chunks import row_slices
from sevila.model.sevila import SeViLA
from sevila.pipeline import Pipeline
from sevila.stages import Evaluate

ATOL = 1e-6  # another batch size may change the float summation order, nothing else


def _texts(num_questions: int) -> tuple[list[str], list[str], torch.Tensor]:
    ps = [prompts.qa_prompts(f"what happens {'next ' * i}?", ["a", "b", "c", "d"]) for i in range(num_questions)]
    return [p.answerer for p in ps], [p.localizer for p in ps], torch.full((num_questions,), 4)


def _rows_seen(module: nn.Module) -> list[int]:
    """Batch sizes of every call of `module` from now on (its first positional or keyword tensor)."""
    seen: list[int] = []

    def hook(_: nn.Module, args: tuple, kwargs: dict) -> None:
        first = args[0] if args else next(v for v in kwargs.values() if isinstance(v, torch.Tensor))
        seen.append(first.shape[0])

    module.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def test_row_slices_cover_the_rows_in_chunks():
    assert row_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 9)]
    assert row_slices(6, 3) == [slice(0, 3), slice(3, 6)]
    assert row_slices(7, None) == [slice(0, 7)]
    assert row_slices(2, 5) == [slice(0, 5)]
    with pytest.raises(ValueError, match="chunk_size=0"):
        row_slices(4, 0)


def test_vit_runs_in_chunks_with_the_same_features(tiny_sevila: SeViLA):
    frames = torch.randn(2, 5, 3, 32, 32)
    whole = tiny_sevila.encode_frames(frames)
    seen = _rows_seen(tiny_sevila.vision_model.encoder)
    tiny_sevila.chunk_size = 4
    chunked = tiny_sevila.encode_frames(frames)
    assert seen == [4, 4, 2]
    assert chunked.shape == whole.shape == (2, 5, 17, 32)
    torch.testing.assert_close(chunked, whole, atol=ATOL, rtol=0)


def test_localizer_t5_runs_in_chunks_of_pairs_with_the_same_chain(tiny_sevila: SeViLA):
    answerer_texts, localizer_texts, num_options = _texts(3)
    raw = tiny_sevila.encode_frames(torch.randn(3, 5, 3, 32, 32))
    whole = tiny_sevila(raw, answerer_texts, localizer_texts, num_options)
    seen = _rows_seen(tiny_sevila.language_model.encoder)
    tiny_sevila.chunk_size = 4
    chunked = tiny_sevila(raw, answerer_texts, localizer_texts, num_options)
    assert seen == [4, 4, 4, 3, 3]  # 15 (question, frame) pairs for the Localizer, then the Answerer's 3 questions
    torch.testing.assert_close(chunked.frame_scores, whole.frame_scores, atol=ATOL, rtol=0)
    assert torch.equal(chunked.keyframe_indices, whole.keyframe_indices)
    torch.testing.assert_close(chunked.option_logits, whole.option_logits, atol=ATOL, rtol=0)


def test_chunk_of_all_rows_is_bit_identical(tiny_sevila: SeViLA):
    answerer_texts, localizer_texts, num_options = _texts(2)
    raw = tiny_sevila.encode_frames(torch.randn(2, 4, 3, 32, 32))
    whole = tiny_sevila(raw, answerer_texts, localizer_texts, num_options)
    tiny_sevila.chunk_size = 8  # exactly the 2 x 4 pairs: one call, as with None
    assert torch.equal(tiny_sevila(raw, answerer_texts, localizer_texts, num_options).frame_scores, whole.frame_scores)


def test_pseudo_labels_run_in_chunks_with_the_same_labels(tiny_sevila: SeViLA):
    answerer_texts, _, num_options = _texts(2)
    raw = tiny_sevila.encode_frames(torch.randn(2, 5, 3, 32, 32))
    answers = torch.tensor([0, 3])
    logits = tiny_sevila.answerer.per_frame(raw, answerer_texts, num_options)
    seen = _rows_seen(tiny_sevila.language_model.encoder)
    tiny_sevila.chunk_size = 3
    chunked = tiny_sevila.answerer.per_frame(raw, answerer_texts, num_options, chunk_size=tiny_sevila.chunk_size)
    assert seen == [3, 3, 3, 1]
    torch.testing.assert_close(chunked, logits, atol=ATOL, rtol=0)
    expected = logits.argmax(dim=-1) == answers.unsqueeze(1)
    assert torch.equal(tiny_sevila.pseudo_labels(raw, answerer_texts, num_options, answers), expected)


def test_questions_sharing_a_clip_run_its_frames_through_the_head_once(tiny_sevila: SeViLA):
    answerer_texts, localizer_texts, num_options = _texts(3)
    one = tiny_sevila.encode_frames(torch.randn(1, 6, 3, 32, 32))  # (1, T, P, Dv)
    shared = one.expand(3, *one.shape[1:])  # how `inference.answer_questions` passes one clip's questions
    seen = _rows_seen(tiny_sevila.localizer.head.qformer)
    from_shared = tiny_sevila(shared, answerer_texts, localizer_texts, num_options)
    assert seen == [6]
    copied = tiny_sevila(shared.contiguous(), answerer_texts, localizer_texts, num_options)
    assert seen == [6, 18]
    torch.testing.assert_close(from_shared.frame_scores, copied.frame_scores, atol=ATOL, rtol=0)
    assert torch.equal(from_shared.keyframe_indices, copied.keyframe_indices)
    torch.testing.assert_close(from_shared.option_logits, copied.option_logits, atol=ATOL, rtol=0)


def test_every_attention_runs_sdpa(tiny_backbone_dir):
    parts = load_blip2(tiny_backbone_dir)
    modules = {"vit": parts.vision_model, "qformer": parts.qformer, "t5": parts.language_model}
    assert {name: m.config._attn_implementation for name, m in modules.items()} == dict.fromkeys(modules, "sdpa")


def test_stage_and_pipeline_set_the_chunk_size_and_reject_a_bad_one(tiny_backbone_dir):
    assert Evaluate(backbone=str(tiny_backbone_dir), chunk_size=16).model.chunk_size == 16
    assert Pipeline.from_pretrained(tiny_backbone_dir, device="cpu", chunk_size=8).model.chunk_size == 8
    with pytest.raises(SevilaError, match="model.chunk_size is 0; expected a positive integer"):
        Evaluate(backbone=str(tiny_backbone_dir), chunk_size=0)
    with pytest.raises(SevilaError, match="chunk_size is -1; expected a positive integer or None"):
        Pipeline.from_pretrained(tiny_backbone_dir, device="cpu", chunk_size=-1)
