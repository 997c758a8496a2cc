"""The one forward chain (`SeViLA.forward`) every caller uses, the keyframe rules beside it, and the reverse chain."""

from __future__ import annotations

import pytest
import torch

from sevila import prompts
from sevila.model.keyframes import gather_frames, uniform_keyframes
from sevila.model.pseudo_label_rules import pseudo_labels_from_logits


def _batch(num_questions: int = 2):
    ps = [prompts.qa_prompts(f"question {i}", ["a", "b", "c", "d"]) for i in range(num_questions)]
    return [p.answerer for p in ps], [p.localizer for p in ps], torch.full((num_questions,), 4)


def test_uniform_rule_takes_the_midpoint_of_each_of_k_equal_segments():
    # Boundaries linspace(0, T, k + 1) cast to int; each segment's midpoint (lo + hi) // 2 (method §7).
    assert uniform_keyframes(32, 4, 1, torch.device("cpu")).tolist() == [[4, 12, 20, 28]]
    assert uniform_keyframes(6, 2, 2, torch.device("cpu")).tolist() == [[1, 4], [1, 4]]
    assert uniform_keyframes(5, 3, 1, torch.device("cpu")).tolist() == [[0, 2, 4]]  # bounds 0, 1, 3, 5
    assert uniform_keyframes(4, 4, 1, torch.device("cpu")).tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="num_keyframes=5"):
        uniform_keyframes(4, 5, 1, torch.device("cpu"))


def test_chain_runs_vit_once_per_frame_and_both_modules_share_it(tiny_sevila):
    model = tiny_sevila
    seen: list[int] = []
    model.vision_model.embeddings.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    answerer_texts, localizer_texts, num_options = _batch(2)
    out = model(model.encode_frames(torch.randn(2, 6, 3, 32, 32)), answerer_texts, localizer_texts, num_options)
    assert seen == [2 * 6]
    assert out.option_logits.shape == (2, 5) and out.frame_scores.shape == (2, 6) and out.loss is None


def test_chain_answers_from_the_localizers_top_k_in_temporal_order(tiny_sevila):
    model = tiny_sevila
    answerer_texts, localizer_texts, num_options = _batch(2)
    raw = model.encode_frames(torch.randn(2, 6, 3, 32, 32))
    out = model(raw, answerer_texts, localizer_texts, num_options)
    torch.testing.assert_close(out.frame_scores, model.localizer(raw, localizer_texts), rtol=0, atol=0)
    assert torch.equal(out.keyframe_indices, out.frame_scores.topk(2).indices.sort().values)
    direct = model.answerer(gather_frames(raw, out.keyframe_indices), answerer_texts, num_options)
    torch.testing.assert_close(out.option_logits, direct, rtol=0, atol=0)


def test_chain_with_uniform_selection_uses_the_uniform_rule_and_no_scores(tiny_sevila):
    model = tiny_sevila
    answerer_texts, localizer_texts, num_options = _batch(2)
    raw = model.encode_frames(torch.randn(2, 6, 3, 32, 32))
    out = model(raw, answerer_texts, localizer_texts, num_options, selection="uniform")
    assert out.frame_scores is None and out.keyframe_indices.tolist() == [[1, 4], [1, 4]]
    direct = model.answerer(gather_frames(raw, out.keyframe_indices), answerer_texts, num_options)
    torch.testing.assert_close(out.option_logits, direct, rtol=0, atol=0)
    with pytest.raises(ValueError, match="selection='best'"):
        model(raw, answerer_texts, localizer_texts, num_options, selection="best")


def test_chain_with_answers_gives_the_loss_and_the_same_read_out(tiny_sevila):
    model = tiny_sevila
    answerer_texts, localizer_texts, num_options = _batch(2)
    raw = model.encode_frames(torch.randn(2, 6, 3, 32, 32))
    answers = torch.tensor([0, 3])
    trained = model(raw, answerer_texts, localizer_texts, num_options, answers=answers)
    plain = model(raw, answerer_texts, localizer_texts, num_options, readout="teacher_forced")
    assert torch.equal(trained.keyframe_indices, plain.keyframe_indices)
    torch.testing.assert_close(trained.option_logits, plain.option_logits, rtol=1e-5, atol=1e-6)
    chosen = gather_frames(raw, plain.keyframe_indices)
    expected, _ = model.answerer.loss(chosen, answerer_texts, num_options, answers)
    assert trained.loss is not None and torch.equal(trained.loss, expected)


def test_gather_frames_picks_per_question_frames():
    raw = torch.arange(2 * 4).float().view(2, 4, 1, 1)
    assert gather_frames(raw, torch.tensor([[1, 3], [0, 2]])).flatten(1).tolist() == [[1.0, 3.0], [4.0, 6.0]]


def test_pseudo_label_rule_is_argmax_equals_gold():
    option_logits = torch.tensor(
        [[[0.1, 2.0, 0.3, float("-inf"), float("-inf")],  # argmax B
          [3.0, 2.0, 0.3, float("-inf"), float("-inf")],  # argmax A
          [0.0, 0.0, 5.0, float("-inf"), float("-inf")]]]  # argmax C
    )
    assert pseudo_labels_from_logits(option_logits, torch.tensor([1])).tolist() == [[True, False, False]]
    assert pseudo_labels_from_logits(option_logits, torch.tensor([2])).tolist() == [[False, False, True]]


def test_sevila_pseudo_labels_follow_per_frame_answerer(tiny_sevila):
    model = tiny_sevila
    answerer_texts, _, num_options = _batch(2)
    raw = model.encode_frames(torch.randn(2, 5, 3, 32, 32))
    per_frame = model.answerer.per_frame(raw, answerer_texts, num_options)
    gold = per_frame[:, 0].argmax(-1)  # frame 0 is right by construction
    labels = model.pseudo_labels(raw, answerer_texts, num_options, gold)
    assert labels[:, 0].all()
    assert torch.equal(labels, per_frame.argmax(-1) == gold.unsqueeze(1))


def _grad_owners(model) -> set[str]:
    return {name.split(".")[0] for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_sevila_localizer_training_leaves_answerer_untouched(tiny_sevila):
    model = tiny_sevila
    model.answerer.requires_grad_(False)
    answerer_texts, localizer_texts, num_options = _batch(1)
    raw = model.encode_frames(torch.randn(1, 4, 3, 32, 32))
    loss, _ = model.localizer.loss(raw, localizer_texts, torch.tensor([[True, False, False, True]]))
    loss.backward()
    assert _grad_owners(model) == {"localizer"}


def test_chain_training_reaches_only_the_answerer_even_with_a_trainable_localizer(tiny_sevila):
    model = tiny_sevila  # every head trainable: the chain itself must keep the Localizer out of the graph
    answerer_texts, localizer_texts, num_options = _batch(2)
    raw = model.encode_frames(torch.randn(2, 6, 3, 32, 32))
    out = model(raw, answerer_texts, localizer_texts, num_options, answers=torch.tensor([0, 3]))
    out.loss.backward()
    assert _grad_owners(model) == {"answerer"}
    assert not out.frame_scores.requires_grad
    assert all(p.grad is None for p in model.vision_model.parameters())


def test_sevila_runs_with_low_precision_backbone(tiny_sevila):
    model = tiny_sevila.set_precision(torch.bfloat16, torch.bfloat16)
    answerer_texts, localizer_texts, num_options = _batch(1)
    out = model(model.encode_frames(torch.randn(1, 4, 3, 32, 32)), answerer_texts, localizer_texts, num_options)
    assert out.option_logits.dtype == torch.float32 and torch.isfinite(out.option_logits[:, :4]).all()
    assert model.answerer.head.qformer.layernorm.weight.dtype == torch.float32



def _record_modes(model) -> list[tuple[str, bool]]:
    """(module, training) each time a head or the T5 runs."""
    seen: list[tuple[str, bool]] = []
    for name in ("localizer", "answerer", "language_model"):
        module = getattr(model, name).head if name != "language_model" else model.language_model
        module.register_forward_pre_hook(lambda m, args, name=name: seen.append((name, m.training)))
    return seen


def test_frozen_passes_run_in_eval_mode_without_frozen_dropout(tiny_sevila):
    model = tiny_sevila.train()  # a training step; the tiny Q-Formers have dropout 0.1
    model.frozen_dropout = False
    seen = _record_modes(model)
    answerer_texts, localizer_texts, num_options = _batch(2)
    raw = model.encode_frames(torch.randn(2, 6, 3, 32, 32))
    _, scores = model.select(raw, localizer_texts)
    model.pseudo_labels(raw, answerer_texts, num_options, torch.tensor([0, 1]))
    assert set(seen) == {("localizer", False), ("answerer", False), ("language_model", False)}
    assert model.localizer.training and model.answerer.training and model.language_model.training  # restored
    torch.testing.assert_close(scores, model.eval().select(raw, localizer_texts)[1], rtol=0, atol=0)


def test_frozen_passes_keep_dropout_with_frozen_dropout(tiny_sevila):
    model = tiny_sevila.train()
    model.frozen_dropout = True  # the original's train mode (recipe §5)
    seen = _record_modes(model)
    _, localizer_texts, _ = _batch(2)
    raw = model.encode_frames(torch.randn(2, 6, 3, 32, 32))
    first, second = (model.select(raw, localizer_texts)[1] for _ in range(2))
    assert set(seen) == {("localizer", True), ("language_model", True)}
    assert not torch.equal(first, second)  # a new dropout draw each pass
