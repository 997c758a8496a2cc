"""The exact prompt strings, frame prefixes and answer targets of SeViLA (sevila-method.md §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OPTION_LETTERS = "ABCDE"
MAX_TEXT_TOKENS = 77  # the original truncates prompt text to 77 tokens (§2)
FRAME_PREFIX = "Frame: "  # per-frame layout; the trailing space is kept as its own "▁" piece (§2)

_QA_ANSWERER_SUFFIX = " Considering the information presented in the frame, select the correct answer from the options."
_QA_LOCALIZER_SUFFIX = (
    " Does the information within the frame provide the necessary details to accurately answer the given question?"
)
_EVENT_ANSWERER_PREFIX = "Upon observing the provided frames, what is the most probable subsequent event?"
_EVENT_LOCALIZER_SUFFIX = " Does the information within the frame provide the necessary details to predict next event?"


@dataclass(frozen=True)
class Prompts:
    """The two texts one question needs: what the Answerer reads and what the Localizer reads."""

    answerer: str
    localizer: str


def multi_frame_prefix(position: int) -> str:
    """Prefix of the `position`-th keyframe (1-based position in the selection, not the frame index)."""
    return f"Frame {position}: "


def option_letter(index: int) -> str:
    """`0 -> 'A'` ... `4 -> 'E'`."""
    if not 0 <= index < len(OPTION_LETTERS):
        raise ValueError(f"option index {index} is outside 0..{len(OPTION_LETTERS) - 1}")
    return OPTION_LETTERS[index]


def answer_target(index: int) -> str:
    """The Answerer's target text, `Option X`."""
    return f"Option {option_letter(index)}"


def _lettered_options(options: Sequence[str]) -> str:
    return "".join(f" Option {option_letter(i)}: {text}" for i, text in enumerate(options))


def qa_prompts(question: str, options: Sequence[str]) -> Prompts:
    """Prompts of a multiple-choice video QA question (NExT-QA, STAR, How2QA, TVQA)."""
    answerer = "Question: " + question + _lettered_options(options) + _QA_ANSWERER_SUFFIX
    localizer = "Question: " + question + " Options: (" + "".join(f"{o} " for o in options) + ")"
    return Prompts(answerer=answerer, localizer=localizer + _QA_LOCALIZER_SUFFIX)


def event_prompts(options: Sequence[str]) -> Prompts:
    """Prompts of a VLEP event-prediction example (no question, two candidate events)."""
    answerer = _EVENT_ANSWERER_PREFIX + _lettered_options(options)
    return Prompts(answerer=answerer, localizer=answerer + _EVENT_LOCALIZER_SUFFIX)


def moment_prompt(query: str) -> str:
    """Localizer prompt of a QVHighlights query (pre-training): the query as a yes/no question."""
    if not query.endswith("."):
        query += "."
    return f"Question: {query} Option A: yes. Option B: no.{_QA_LOCALIZER_SUFFIX}"
