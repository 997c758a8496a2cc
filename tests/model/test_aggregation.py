"""The read-outs that combine per-keyframe answers: BLIP-2^voting's majority and the oracle, on hand-made logits."""

from __future__ import annotations

import math

import pytest
import torch

from sevila.model.aggregation import oracle_logits, vote_scores

NEG = float("-inf")


def _logits(*frames: list[float]) -> torch.Tensor:
    """One question's per-frame option logits (1, K, 5) from K rows of five numbers."""
    return torch.tensor([list(frames)], dtype=torch.float32)


def test_vote_majority_wins_over_a_more_confident_minority():
    # Frames 1 and 2 vote B narrowly; frame 3 votes A with a huge margin: two votes beat one.
    logits = _logits([0.0, 0.1, -1.0, -1.0, -1.0], [0.0, 0.1, -1.0, -1.0, -1.0], [9.0, 0.0, -1.0, -1.0, -1.0])
    scores = vote_scores(logits, torch.tensor([5]))
    assert scores.argmax(dim=-1).tolist() == [1]
    # score = votes + half the mean probability over frames
    probabilities = logits.softmax(dim=-1).mean(dim=1)[0]
    expected = torch.tensor([1.0, 2.0, 0.0, 0.0, 0.0]) + 0.5 * probabilities
    torch.testing.assert_close(scores[0], expected, rtol=0, atol=1e-6)


def test_vote_tie_in_votes_goes_to_the_higher_mean_probability():
    # One vote each for A and B; C has none but the highest mean probability does not matter (fewer votes).
    logits = _logits([2.0, 0.0, 1.9, NEG, NEG], [0.0, 5.0, 4.9, NEG, NEG])
    scores = vote_scores(logits, torch.tensor([3]))
    votes = scores.floor()
    assert votes[0, :3].tolist() == [1.0, 1.0, 0.0]
    assert scores.argmax(dim=-1).tolist() == [1]  # B: mean probability of B > of A


def test_vote_tie_in_votes_and_probability_goes_to_the_earliest_letter():
    # Mirror-image frames: A and B get one vote each and exactly the same mean probability.
    logits = _logits([1.0, 0.0, -2.0, -2.0, -2.0], [0.0, 1.0, -2.0, -2.0, -2.0])
    scores = vote_scores(logits, torch.tensor([5]))
    assert scores[0, 0].item() == scores[0, 1].item()
    assert scores.argmax(dim=-1).tolist() == [0]
    mirrored = _logits([0.0, 1.0, -2.0, -2.0, -2.0], [1.0, 0.0, -2.0, -2.0, -2.0])  # frame order does not matter
    assert vote_scores(mirrored, torch.tensor([5])).argmax(dim=-1).tolist() == [0]


def test_vote_letters_past_the_options_stay_minus_infinity_and_never_win():
    # Unmasked logits: every frame's raw argmax is the 5th letter, but the question has only 3 options.
    logits = _logits([0.0, 1.0, 0.5, 2.0, 9.0], [0.0, 0.2, 1.0, 3.0, 9.0], [0.0, 0.3, 0.1, 2.0, 9.0])
    scores = vote_scores(logits, torch.tensor([3]))
    assert scores[0, 3:].tolist() == [NEG, NEG]
    assert scores.argmax(dim=-1).tolist() == [1]  # B has two votes among A..C
    assert math.isfinite(scores[0, :3].sum().item())


def test_vote_is_per_question_with_its_own_option_count():
    logits = torch.tensor([
        [[0.0, 1.0, 9.0, NEG, NEG], [0.0, 1.0, 9.0, NEG, NEG]],  # 3 options: C twice
        [[0.0, 1.0, 9.0, NEG, NEG], [2.0, 1.0, 9.0, NEG, NEG]],  # 2 options: one vote each, equal mean -> A
    ])
    scores = vote_scores(logits, torch.tensor([3, 2]))
    assert scores.argmax(dim=-1).tolist() == [2, 0]
    assert scores[1, 2:].tolist() == [NEG, NEG, NEG]


def test_oracle_is_right_iff_any_frame_alone_is_right_and_returns_that_frames_logits():
    frame_logits = torch.tensor([
        [[3.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0]],  # gold B: frames 1 and 2 are right
        [[3.0, 0.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]],  # gold D: no frame is right
        [[0.0, 0.0, 1.0, 0.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 7.0]],  # gold C: only frame 0 is right
    ])
    answers = torch.tensor([1, 3, 2])
    chosen = oracle_logits(frame_logits, answers)
    assert chosen.argmax(dim=-1).eq(answers).tolist() == [True, False, True]
    # the earliest right frame's logits; the first frame's when none is right
    assert torch.equal(chosen, torch.stack([frame_logits[0, 1], frame_logits[1, 0], frame_logits[2, 0]]))


def test_oracle_counts_a_right_frame_by_its_argmax_not_by_its_margin():
    # Frame 1 ties A and B; argmax takes the first (A), so with gold B only frame 2 is right.
    frame_logits = torch.tensor([[[0.0, 0.0, NEG], [1.0, 1.0, NEG], [0.0, 0.5, NEG]]])
    chosen = oracle_logits(frame_logits, torch.tensor([1]))
    assert torch.equal(chosen[0], frame_logits[0, 2])


@pytest.mark.parametrize("num_frames", [1, 4])
def test_vote_of_identical_frames_is_the_single_frames_answer(num_frames):
    frame = [0.3, -0.2, 1.7, 0.9, NEG]
    scores = vote_scores(_logits(*[frame] * num_frames), torch.tensor([4]))
    assert scores.argmax(dim=-1).tolist() == [2]
    assert scores[0, 2].item() == pytest.approx(num_frames + 0.5 * torch.tensor(frame).softmax(-1)[2].item(), abs=1e-6)
