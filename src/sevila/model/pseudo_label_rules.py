"""The reverse chain's rules turning per-frame option logits into yes/no pseudo-labels (method §6)."""

from __future__ import annotations

from pathlib import Path

import math
from typing import Literal

from torch import Tensor

from sevila.errors import SevilaError

# paper: yes iff the Answerer's argmax is the gold option; confidence / margin also need the gold option to win
# by a threshold (its softmax probability, or its logit's lead over the runner-up).
PseudoLabelRule = Literal["paper", "confidence", "margin"]
PSEUDO_LABEL_RULES: tuple[PseudoLabelRule, ...] = ("paper", "confidence", "margin")


def pseudo_labels_from_logits(option_logits: Tensor, answers: Tensor) -> Tensor:
    """Per-frame option logits (B, T, 5) at decoder position 1 -> yes (B, T) iff the argmax is the gold option.

    The gold target `Option X` is teacher-forced; position 1 sees only [start, Option], so its logits are
    the same for every gold letter and equal `Answerer.per_frame`'s.
    """
    return option_logits.argmax(dim=-1) == answers.to(option_logits.device).unsqueeze(1)


def check_rule(rule: str, threshold: float) -> None:
    """Refuse an unknown rule, or a threshold its rule cannot use, in one line naming the flag and the fix."""
    if rule not in PSEUDO_LABEL_RULES:
        raise SevilaError(f"model.pseudo_label_rule={rule!r}: expected one of {', '.join(PSEUDO_LABEL_RULES)}")
    if rule == "confidence" and not 0 < threshold < 1:
        raise SevilaError(f"model.pseudo_label_threshold is {threshold} but pseudo_label_rule 'confidence' compares "
                          "it with a probability: give a value in (0, 1), e.g. 0.5")
    if rule == "margin" and not (math.isfinite(threshold) and threshold >= 0):
        raise SevilaError(f"model.pseudo_label_threshold is {threshold} but pseudo_label_rule 'margin' compares it "
                          "with a logit difference: give a finite value >= 0, e.g. 1.0")


def gated_pseudo_labels(
    option_logits: Tensor, answers: Tensor, rule: PseudoLabelRule = "paper", threshold: float = 0.5
) -> Tensor:
    """Yes (B, T) from per-frame option logits (B, T, 5), -inf past each question's options, by `rule`.

    `confidence`: the paper's yes and the gold option's softmax probability over the question's options
    >= threshold; `margin`: the paper's yes and the gold logit >= the runner-up's + threshold. `paper` ignores
    the threshold. Both gates only remove yes frames, meant to drop a weak Answerer's lucky guesses (README
    "Stage 3: gated pseudo-labels").
    """
    check_rule(rule, threshold)
    labels = pseudo_labels_from_logits(option_logits, answers)
    if rule == "paper":
        return labels
    logits = option_logits.float()
    gold = answers.to(logits.device).view(-1, 1, 1).expand(*logits.shape[:2], 1)  # (B, T, 1)
    if rule == "confidence":
        score = logits.softmax(dim=-1).gather(-1, gold).squeeze(-1)  # (B, T); masked options have probability 0
    else:
        top2 = logits.topk(2, dim=-1).values  # (B, T, 2); where gold is the argmax, top2[..., 0] is its logit
        score = top2[..., 0] - top2[..., 1]
    return labels & (score.double() >= threshold)  # float64: the threshold exactly as given, not rounded to fp32


def label_folder(cache_dir: str | Path, rule: str, threshold: float) -> Path:
    """Where a rule's labels are cached: `cache_dir` for the paper's, `<cache_dir>/<rule>-<threshold>/` for a gated one."""
    return Path(cache_dir) if rule == "paper" else Path(cache_dir) / f"{rule}-{float(threshold)!r}"
