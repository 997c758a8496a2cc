"""The gated pseudo-label rules on hand-made logits: exactly which frames are yes under each rule and threshold."""

from __future__ import annotations

import math

import pytest
import torch

from sevila.errors import SevilaError
from sevila.model.pseudo_label_rules import check_rule, gated_pseudo_labels, pseudo_labels_from_logits

INF = float("-inf")
# (B=2, T=3, 5): question 0 has 5 options (gold B), question 1 has 4 (gold D; letter E masked, as per_frame does).
LOGITS = torch.tensor([
    [[0.0, 2.0, 0.0, 0.0, 0.0],  # gold wins: p = e^2 / (e^2 + 4) = 0.6488, margin 2
     [1.0, 3.0, 2.5, 0.0, 0.0],  # gold wins: p = 0.5431, margin exactly 0.5
     [4.0, 1.0, 0.0, 0.0, 0.0]],  # A wins: no under every rule
    [[0.0, 0.0, 0.0, 1.0, INF],  # gold wins: p = e / (e + 3) = 0.4754 (0.4046 if E counted as a 0 logit), margin 1
     [0.0, 0.0, 2.0, 2.0, INF],  # C and D tie: argmax is the first, C, so no
     [-1.0, -1.0, -1.0, 0.5, INF]],  # gold wins: p = 0.5990, margin 1.5
])
GOLD = torch.tensor([1, 3])
PAPER = [[True, True, False], [True, False, True]]


def test_paper_rule_is_argmax_equals_gold_whatever_the_threshold():
    paper = pseudo_labels_from_logits(LOGITS, GOLD)
    assert paper.tolist() == PAPER
    for threshold in (0.5, 0.99, 7.0):
        assert torch.equal(gated_pseudo_labels(LOGITS, GOLD, "paper", threshold), paper)


@pytest.mark.parametrize(("threshold", "expected"), [
    (0.45, PAPER),  # 0.4754 passes only because the masked E takes no probability
    (0.48, [[True, True, False], [False, False, True]]),
    (0.55, [[True, False, False], [False, False, True]]),
    (0.6, [[True, False, False], [False, False, False]]),
    (0.65, [[False, False, False], [False, False, False]]),
])
def test_confidence_rule_gates_on_the_gold_probability_over_the_options(threshold, expected):
    assert gated_pseudo_labels(LOGITS, GOLD, "confidence", threshold).tolist() == expected


def test_confidence_rule_keeps_a_frame_exactly_at_the_threshold():
    at = LOGITS[0, 1].softmax(-1)[1].item()  # the gold probability of question 0, frame 1, as the rule computes it
    assert gated_pseudo_labels(LOGITS, GOLD, "confidence", at)[0].tolist() == [True, True, False]
    above = math.nextafter(at, 1.0)
    assert gated_pseudo_labels(LOGITS, GOLD, "confidence", above)[0].tolist() == [True, False, False]


@pytest.mark.parametrize(("threshold", "expected"), [
    (0.0, PAPER),
    (0.5, PAPER),  # the tie: a margin of exactly 0.5 is kept
    (math.nextafter(0.5, 1.0), [[True, False, False], [True, False, True]]),
    (1.0, [[True, False, False], [True, False, True]]),  # question 1 frame 0: margin exactly 1 (not over the -inf E)
    (1.6, [[True, False, False], [False, False, False]]),
    (2.5, [[False, False, False], [False, False, False]]),
])
def test_margin_rule_gates_on_the_gold_lead_over_the_runner_up(threshold, expected):
    assert gated_pseudo_labels(LOGITS, GOLD, "margin", threshold).tolist() == expected


def test_gated_labels_are_a_subset_of_the_papers_on_random_logits():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 8, 5, generator=generator) * 2  # (B, T, 5)
    num_options = torch.randint(2, 6, (64,), generator=generator)
    logits = logits.masked_fill(torch.arange(5) >= num_options.view(-1, 1, 1), INF)
    gold = (torch.rand(64, generator=generator) * num_options).long()
    paper = pseudo_labels_from_logits(logits, gold)
    for rule, threshold in [("confidence", 0.5), ("confidence", 0.75), ("confidence", 0.95), ("margin", 0.0),
                            ("margin", 0.5), ("margin", 3.0)]:
        gated = gated_pseudo_labels(logits, gold, rule, threshold)
        assert not (gated & ~paper).any(), (rule, threshold)
        if threshold > 0:  # a real gate: it drops some of the paper's yes frames and keeps others
            assert 0 < gated.sum() < paper.sum(), (rule, threshold, gated.sum(), paper.sum())
        else:
            assert torch.equal(gated, paper)


@pytest.mark.parametrize(("rule", "threshold", "message"), [
    ("confidence", 0.0, r"is 0.0 but pseudo_label_rule 'confidence' .* give a value in \(0, 1\)"),
    ("confidence", 1.0, r"is 1.0 but pseudo_label_rule 'confidence'"),
    ("confidence", float("nan"), r"is nan but pseudo_label_rule 'confidence'"),
    ("margin", -0.5, r"is -0.5 but pseudo_label_rule 'margin' .* give a finite value >= 0"),
    ("margin", float("inf"), r"is inf but pseudo_label_rule 'margin'"),
    ("vote", 0.5, r"model.pseudo_label_rule='vote': expected one of paper, confidence, margin"),
])
def test_rule_refuses_a_threshold_it_cannot_use(rule, threshold, message):
    with pytest.raises(SevilaError, match=message):
        check_rule(rule, threshold)


def test_rule_accepts_its_thresholds_and_paper_any():
    for rule, threshold in [("confidence", 0.01), ("confidence", 0.99), ("margin", 0.0), ("margin", 3.0),
                            ("paper", -1.0), ("paper", 2.0)]:
        check_rule(rule, threshold)
