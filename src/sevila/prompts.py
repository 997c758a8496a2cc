"""The exact prompt strings, frame prefixes and answer targets of SeViLA (sevila-method.md §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sevila.errors import SevilaError

OPTION_LETTERS = "ABCDE"
MAX_TEXT_TOKENS = 77  # the original truncates prompt text to 77 tokens (§2)
FRAME_PREFIX = "Frame: "  # per-frame layout; the trailing space is kept as its own "▁" piece (§2)

_QA_ANSWERER = "Considering the information presented in the frame, select the correct answer from the options."
_QA_LOCALIZER_SUFFIX = (
    " Does the information within the frame provide the necessary details to accurately answer the given question?"
)
_EVENT_ANSWERER_PREFIX = "Upon observing the provided frames, what is the most probable subsequent event?"
_EVENT_LOCALIZER = "Does the information within the frame provide the necessary details to predict next event?"

PAPER = "paper"  # the name of the paper's wording: each benchmark's own sentence (§2)
# The Localizer's yes/no instruction, after the question and options (`--data.init_args.localizer_prompt`, paper
# Table 16 compares such wordings). Only `paper` is the paper's; the others are ours, for prompt experiments.
LOCALIZER_WORDINGS: dict[str, str] = {
    PAPER: _QA_LOCALIZER_SUFFIX.strip(),
    "relevant": "Is this frame relevant to answering the question?",
    "sufficient": "Does this frame alone show enough to answer the question?",
    "evidence": "Does the frame show visual evidence for the correct answer?",
}
# The Answerer's instruction (`--data.init_args.answerer_prompt`): after the options (QA), before them (VLEP).
ANSWERER_WORDINGS: dict[str, str] = {
    PAPER: _QA_ANSWERER,
    "frames": "Considering the information presented in the frames, select the correct answer from the options.",
    "short": "Select the correct answer from the options.",
}


def wording(setting: str, wordings: dict[str, str], flag: str) -> str | None:
    """A prompt setting as text: a name of `wordings`, or a literal sentence; None for `paper` (each benchmark's own).

    A single word that is not a name is refused, so a misspelt name never becomes the prompt.
    """
    if setting == PAPER:
        return None
    if setting in wordings:
        return wordings[setting]
    if len(setting.split()) < 2:
        raise SevilaError(
            f"--data.init_args.{flag} is {setting!r}: expected one of {', '.join(wordings)} or a sentence of your own"
        )
    return setting.strip()


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


def qa_prompts(
    question: str, options: Sequence[str], localizer_instruction: str | None = None,
    answerer_instruction: str | None = None,
) -> Prompts:
    """Prompts of a multiple-choice video QA question (NExT-QA, STAR, How2QA, TVQA); None = the paper's wording."""
    answerer = "Question: " + question + _lettered_options(options) + " " + (answerer_instruction or _QA_ANSWERER)
    localizer = "Question: " + question + " Options: (" + "".join(f"{o} " for o in options) + ")"
    return Prompts(answerer=answerer, localizer=localizer + " " + (localizer_instruction or LOCALIZER_WORDINGS[PAPER]))


def event_prompts(
    options: Sequence[str], localizer_instruction: str | None = None, answerer_instruction: str | None = None
) -> Prompts:
    """Prompts of a VLEP event-prediction example (no question, two candidate events); None = the paper's wording."""
    answerer = (answerer_instruction or _EVENT_ANSWERER_PREFIX) + _lettered_options(options)
    return Prompts(answerer=answerer, localizer=answerer + " " + (localizer_instruction or _EVENT_LOCALIZER))


def moment_prompt(query: str) -> str:
    """Localizer prompt of a QVHighlights query (pre-training): the query as a yes/no question."""
    if not query.endswith("."):
        query += "."
    return f"Question: {query} Option A: yes. Option B: no.{_QA_LOCALIZER_SUFFIX}"
