"""Accuracy overall and per question type (sevila-method.md §9): pure functions and a torchmetrics Metric."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

# Fine types in the column order of NExT-QA's official table (eval_mc.py).
NEXTQA_TYPES = ("CW", "CH", "TN", "TC", "DC", "DL", "DO")
# eval_mc.py folds TP ("previous") into TN ("before & after") before scoring; we do the same.
NEXTQA_TYPE_ALIASES = {"TP": "TN"}
STAR_CATEGORIES = ("Interaction", "Sequence", "Prediction", "Feasibility")


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


class QuestionTypeAccuracy(Metric):
    """Accuracy overall and per question type over a (distributed) evaluation, each dataset index counted once."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, type_names: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not type_names or len(set(type_names)) != len(type_names):
            raise ValueError(f"type_names must be non-empty and unique, got {list(type_names)}")
        self.type_names = list(type_names)
        # One (N, 3) long tensor per update: dataset index, correct (0/1), type id.
        self.add_state("records", default=[], dist_reduce_fx="cat")

    def update(self, index: Tensor, correct: Tensor, type_id: Tensor) -> None:
        """Record a batch: dataset positions (B,), whether each answer was right (B,), type ids (B,)."""
        if not (index.ndim == 1 and index.shape == correct.shape == type_id.shape):
            raise ValueError(
                f"index, correct and type_id must be 1-D of one length, got shapes "
                f"{tuple(index.shape)}, {tuple(correct.shape)}, {tuple(type_id.shape)}"
            )
        self.records.append(torch.stack([index.long(), correct.long(), type_id.long()], dim=1))

    def compute(self) -> dict[str, Tensor]:
        """`{"acc": ..., "acc_<type>": ...}` in percent; types without questions are left out."""
        if isinstance(self.records, list) and not self.records:
            return {"acc": torch.tensor(float("nan"), device=self.device)}
        records = _first_per_index(dim_zero_cat(self.records))  # (N, 3)
        correct, type_id = records[:, 1].float(), records[:, 2]
        num_types = len(self.type_names)
        if int(type_id.min()) < 0 or int(type_id.max()) >= num_types:
            raise ValueError(f"type_id must lie in 0..{num_types - 1}, found {type_id.min()}..{type_id.max()}")
        result = {"acc": 100.0 * correct.mean()}
        # Masks rather than a weighted bincount, which has no deterministic CUDA kernel.
        for i, name in enumerate(self.type_names):
            of_type = correct[type_id == i]
            if len(of_type) > 0:
                result[f"acc_{name}"] = 100.0 * of_type.mean()
        return result


def _first_per_index(records: Tensor) -> Tensor:
    """Keep the first record of each dataset index (column 0)."""
    # DistributedSampler pads the last batches with repeated questions; each must count once.
    order = torch.argsort(records[:, 0], stable=True)
    ordered = records[order]
    first = torch.ones(len(ordered), dtype=torch.bool, device=records.device)
    first[1:] = ordered[1:, 0] != ordered[:-1, 0]
    return ordered[first]
