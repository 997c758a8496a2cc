"""The chain's other read-outs (`aggregation` vote / oracle) and the all-frames selection, on the tiny model."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from profile_factory import perturbed_heads

from sevila import prompts
from sevila.model.keyframes import gather_frames
from sevila.model.sevila import SeViLA

NUM_QUESTIONS, NUM_FRAMES = 8, 6


@pytest.fixture(scope="module")
def model(lively_backbone_dir) -> SeViLA:
    """A ViT that tells frames apart and an Answerer head far off BLIP-2's Q-Former, so frames alone disagree."""
    model = perturbed_heads(lively_backbone_dir).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():  # the tiny T5's text prior otherwise gives every frame the same answer
        for parameter in model.answerer.head.parameters():
            parameter.add_(2.0 * torch.randn(parameter.shape, generator=generator))
    model.num_keyframes = 3
    return model


@pytest.fixture(scope="module")
def batch(model):
    torch.manual_seed(0)
    ps = [prompts.qa_prompts(f"what is the color {i}", ["red", "blue", "green", "circle"]) for i in range(NUM_QUESTIONS)]
    raw = model.encode_frames(torch.randn(NUM_QUESTIONS, NUM_FRAMES, 3, 32, 32))
    return raw, [p.answerer for p in ps], [p.localizer for p in ps], torch.full((NUM_QUESTIONS,), 4)


def _majority(frame_logits: torch.Tensor) -> int:
    """The documented vote of one question's (K, A) logits, written out: most votes, then mean probability, then A."""
    counts = Counter(frame_logits.argmax(dim=-1).tolist())
    top = max(counts.values())
    tied = [letter for letter in sorted(counts) if counts[letter] == top]
    mean = frame_logits.softmax(dim=-1).mean(dim=0)
    return max(tied, key=lambda letter: (mean[letter].item(), -letter))


def test_vote_answers_the_majority_of_the_keyframes_answered_alone(model, batch):
    raw, answerer_texts, localizer_texts, num_options = batch
    with torch.no_grad():
        out = model(raw, answerer_texts, localizer_texts, num_options, aggregation="vote")
        alone = model.answerer.per_frame(gather_frames(raw, out.keyframe_indices), answerer_texts, num_options,
                                         readout="official")  # (B, K, 5)
    assert out.keyframe_indices.shape == (NUM_QUESTIONS, 3) and out.frame_scores is not None
    assert out.option_logits.argmax(dim=-1).tolist() == [_majority(row) for row in alone]
    assert out.loss is None


def test_vote_reads_the_same_keyframes_as_the_concat_chain(model, batch):
    raw, answerer_texts, localizer_texts, num_options = batch
    with torch.no_grad():
        voted = model(raw, answerer_texts, localizer_texts, num_options, aggregation="vote")
        concat = model(raw, answerer_texts, localizer_texts, num_options)
    assert torch.equal(voted.keyframe_indices, concat.keyframe_indices)
    torch.testing.assert_close(voted.frame_scores, concat.frame_scores, rtol=0, atol=0)


def test_oracle_is_right_iff_some_keyframe_alone_is_right_and_never_below_vote(model, batch):
    raw, answerer_texts, localizer_texts, num_options = batch
    answers = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    with torch.no_grad():
        oracle = model(raw, answerer_texts, localizer_texts, num_options, answers=answers, aggregation="oracle")
        vote = model(raw, answerer_texts, localizer_texts, num_options, aggregation="vote")
        alone = model.answerer.per_frame(gather_frames(raw, oracle.keyframe_indices), answerer_texts, num_options,
                                         readout="official")
    oracle_right = oracle.option_logits.argmax(-1) == answers
    vote_right = vote.option_logits.argmax(-1) == answers
    assert oracle_right.tolist() == (alone.argmax(-1) == answers.unsqueeze(1)).any(dim=1).tolist()
    assert not (vote_right & ~oracle_right).any()  # the vote's winner is some keyframe's answer
    assert oracle_right.sum() >= vote_right.sum() and oracle.loss is None


def test_read_outs_are_checked(model, batch):
    raw, answerer_texts, localizer_texts, num_options = batch
    with pytest.raises(ValueError, match="aggregation='mean'"):
        model(raw, answerer_texts, localizer_texts, num_options, aggregation="mean")
    with pytest.raises(ValueError, match="pass answers with 'oracle'"):
        model(raw, answerer_texts, localizer_texts, num_options, aggregation="oracle")
    with pytest.raises(ValueError, match="without it for 'vote'"):
        model(raw, answerer_texts, localizer_texts, num_options, answers=torch.zeros(NUM_QUESTIONS).long(),
              aggregation="vote")


def test_all_selection_gives_the_answerer_every_frame_in_order(model, batch):
    raw, answerer_texts, localizer_texts, num_options = batch
    seen: list[int] = []
    hook = model.answerer.head.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    try:
        with torch.no_grad():
            out = model(raw, answerer_texts, localizer_texts, num_options, selection="all")
    finally:
        hook.remove()
    assert out.keyframe_indices.tolist() == [list(range(NUM_FRAMES))] * NUM_QUESTIONS and out.frame_scores is None
    assert seen == [NUM_QUESTIONS * NUM_FRAMES]  # n frames per question, not k = 3
    with torch.no_grad():
        direct = model.answerer(raw, answerer_texts, num_options)
    torch.testing.assert_close(out.option_logits, direct, rtol=0, atol=0)


def test_all_selection_votes_over_every_frame(model, batch):
    raw, answerer_texts, localizer_texts, num_options = batch
    with torch.no_grad():
        out = model(raw, answerer_texts, localizer_texts, num_options, selection="all", aggregation="vote")
        alone = model.answerer.per_frame(raw, answerer_texts, num_options, readout="official")
    assert any(len(set(row.argmax(-1).tolist())) > 1 for row in alone), "frames alone never disagree: vacuous test"
    assert out.option_logits.argmax(dim=-1).tolist() == [_majority(row) for row in alone]
