"""How the Answerer's reading of the k keyframes becomes one answer: all k at once, or each alone then combined.

`concat` is SeViLA's Answerer (method §3, §5): the k keyframes in one multi-frame input. `vote` is the paper's
BLIP-2^voting baseline: each keyframe answers alone (the per-frame layout) and the most-voted option wins. `oracle`
is the paper's upper bound (Table 9): a question counts as right if any one keyframe alone answers it.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from sevila.model.answerer import mask_options

Aggregation = Literal["concat", "vote", "oracle"]
AGGREGATIONS: tuple[Aggregation, ...] = ("concat", "vote", "oracle")


def vote_scores(frame_logits: Tensor, num_options: Tensor) -> Tensor:
    """Majority vote of per-frame option logits (B, K, A) of questions with `num_options` (B,) options -> (B, A).

    Each frame votes for its argmax (the first letter on a tie of logits, as `argmax` does). The score of an
    option is its votes plus half its mean probability over the frames (softmax over the question's options), so
    the most votes win; a tie in votes goes to the option the frames find more probable on average; a tie in that
    too to the earliest letter (`argmax` of the scores). Letters past the options stay -inf.
    """
    frame_logits = mask_options(frame_logits.float(), num_options)
    choices = frame_logits.argmax(dim=-1)  # (B, K)
    votes = torch.zeros(frame_logits.shape[0], frame_logits.shape[2], device=frame_logits.device)  # (B, A)
    votes.scatter_add_(1, choices, torch.ones_like(choices, dtype=votes.dtype))
    mean_probability = frame_logits.softmax(dim=-1).mean(dim=1)  # (B, A), in [0, 1]
    return mask_options(votes + 0.5 * mean_probability, num_options)


def oracle_logits(frame_logits: Tensor, answers: Tensor) -> Tensor:
    """The option logits (B, A) of one keyframe alone: the earliest whose answer is the gold one, else the first.

    So the read-out's answer is right iff any one keyframe alone answers right (the paper's oracle, Table 9).
    """
    right = frame_logits.argmax(dim=-1) == answers.to(frame_logits.device).unsqueeze(1)  # (B, K)
    chosen = torch.where(right.any(dim=1), right.float().argmax(dim=1), torch.zeros_like(answers, device=right.device))
    return frame_logits[torch.arange(frame_logits.shape[0], device=right.device), chosen]
