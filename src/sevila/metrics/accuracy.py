"""Accuracy overall and per question type (sevila-method.md §9)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sevila.benchmarks import STAR_CATEGORIES

# Fine types in the column order of NExT-QA's official table (eval_mc.py).
NEXTQA_TYPES = ("CW", "CH", "TN", "TC", "DC", "DL", "DO")
# eval_mc.py folds TP ("previous") into TN ("before & after") before scoring; we do the same.
NEXTQA_TYPE_ALIASES = {"TP": "TN"}


@dataclass(frozen=True)
class QARow:
    """One answered question; `qid` carries the question type as its prefix before the first `_` (§8)."""

    qid: str
    prediction: int
    target: int


def question_type(qid: str) -> str:
    """The type of a question: the prefix of its qid before the first `_` (sevila-method.md §8)."""
    prefix, separator, rest = qid.partition("_")
    if not (prefix and separator and rest):
        raise ValueError(f"qid {qid!r} has no '<type>_' prefix; expected e.g. 'CW_4010069381_6' or 'TVQA_12'")
    return prefix


def percent(correct: int, total: int) -> float:
    """`100 * correct / total` rounded to 2 decimals, as the official evaluation scripts report it."""
    if total <= 0:
        raise ValueError("no questions to score: the predictions and annotations share no qid")
    return round(100.0 * correct / total, 2)


def _tally(rows: Iterable[QARow], group_of: Callable[[str], str]) -> dict[str, tuple[int, int]]:
    """(correct, total) per group, groups in first-seen order."""
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        group = group_of(row.qid)
        correct, total = counts.get(group, (0, 0))
        counts[group] = (correct + int(row.prediction == row.target), total + 1)
    return counts


def _report(counts: dict[str, tuple[int, int]], order: Sequence[str]) -> dict[str, float]:
    """`Acc` over all groups, then `Acc_<group>` for each group of `order` that has questions."""
    correct = sum(c for c, _ in counts.values())
    total = sum(n for _, n in counts.values())
    report = {"Acc": percent(correct, total)}
    report.update({f"Acc_{group}": percent(*counts[group]) for group in order if group in counts})
    return report


def accuracy_by_type(rows: Iterable[QARow]) -> dict[str, float]:
    """Overall `Acc` and one `Acc_<type>` per qid prefix (sorted by type), in percent."""
    counts = _tally(rows, question_type)
    return _report(counts, sorted(counts))


def _nextqa_type(qid: str) -> str:
    fine = question_type(qid)
    fine = NEXTQA_TYPE_ALIASES.get(fine, fine)
    if fine not in NEXTQA_TYPES:
        raise ValueError(f"qid {qid!r}: {fine!r} is not a NExT-QA type; expected one of CW CH TN TP TC DL DC DO")
    return fine


def nextqa_metrics(rows: Iterable[QARow]) -> dict[str, float]:
    """NExT-QA's official table: `Acc`, groups `Acc_C`/`Acc_T`/`Acc_D`, fine types `Acc_CW`... (TP within TN)."""
    fine = _tally(rows, _nextqa_type)
    groups: dict[str, tuple[int, int]] = {}
    for fine_type, (correct, total) in fine.items():
        group_correct, group_total = groups.get(fine_type[0], (0, 0))
        groups[fine_type[0]] = (group_correct + correct, group_total + total)
    report = _report(groups, ("C", "T", "D"))
    report.update({f"Acc_{t}": percent(*fine[t]) for t in NEXTQA_TYPES if t in fine})
    return report


def _star_category(qid: str) -> str:
    category = question_type(qid)
    if category not in STAR_CATEGORIES:
        raise ValueError(f"qid {qid!r}: {category!r} is not a STAR category; expected one of {STAR_CATEGORIES}")
    return category


def star_metrics(rows: Iterable[QARow]) -> dict[str, float]:
    """STAR: headline `Mean` (unweighted mean of the four category accuracies), `Acc`, and `Acc_<category>`."""
    counts = _tally(rows, _star_category)
    absent = [category for category in STAR_CATEGORIES if category not in counts]
    if absent:
        raise ValueError(f"the STAR mean needs all four categories; no question of {', '.join(absent)}")
    # §9: the headline weighs the four categories equally, whatever their sizes.
    mean = sum(100.0 * correct / total for correct, total in counts.values()) / len(STAR_CATEGORIES)
    return {"Mean": round(mean, 2), **_report(counts, STAR_CATEGORIES)}
