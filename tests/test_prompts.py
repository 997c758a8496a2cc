from __future__ import annotations

import pytest

from sevila import prompts


def test_qa_prompts_five_options_exact_strings():
    p = prompts.qa_prompts("why did the boy run", ["to eat.", "to play.", "to hide.", "to sleep.", "to cry."])
    assert p.answerer == (
        "Question: why did the boy run Option A: to eat. Option B: to play. Option C: to hide. "
        "Option D: to sleep. Option E: to cry. Considering the information presented in the frame, "
        "select the correct answer from the options."
    )
    assert p.localizer == (
        "Question: why did the boy run Options: (to eat. to play. to hide. to sleep. to cry. ) "
        "Does the information within the frame provide the necessary details to accurately answer the given question?"
    )


def test_event_prompts_vlep_exact_strings():
    p = prompts.event_prompts(["He leaves.", "He sits down."])
    assert p.answerer == (
        "Upon observing the provided frames, what is the most probable subsequent event? "
        "Option A: He leaves. Option B: He sits down."
    )
    assert p.localizer == p.answerer + (
        " Does the information within the frame provide the necessary details to predict next event?"
    )


def test_moment_prompt_appends_period_only_when_missing():
    expected = (
        "Question: a man cooks. Option A: yes. Option B: no. Does the information within the frame "
        "provide the necessary details to accurately answer the given question?"
    )
    assert prompts.moment_prompt("a man cooks") == expected
    assert prompts.moment_prompt("a man cooks.") == expected


def test_answer_target_maps_index_to_letter():
    assert [prompts.answer_target(i) for i in range(5)] == [f"Option {x}" for x in "ABCDE"]
    with pytest.raises(ValueError, match="outside 0..4"):
        prompts.answer_target(5)


def test_multi_frame_prefix_numbers_positions_from_one():
    assert prompts.multi_frame_prefix(1) == "Frame 1: "
    assert prompts.FRAME_PREFIX == "Frame: "
