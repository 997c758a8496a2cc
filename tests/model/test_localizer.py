from __future__ import annotations

import pytest
import torch

from sevila import prompts
from sevila.model.keyframes import top_k_keyframes


def test_localizer_keeps_temporal_order():
    scores = torch.tensor([[0.1, 0.9, 0.2, 0.8, 0.95, 0.0], [5.0, 1.0, 4.0, 3.0, 2.0, 6.0]])
    # top-2 by score are (4, 1) and (5, 0): both must come back sorted by time.
    assert top_k_keyframes(scores, 2).tolist() == [[1, 4], [0, 5]]
    assert top_k_keyframes(scores, 3).tolist() == [[1, 3, 4], [0, 2, 5]]


def test_localizer_rejects_more_keyframes_than_candidates():
    with pytest.raises(ValueError, match="num_keyframes=7"):
        top_k_keyframes(torch.zeros(1, 6), 7)


def test_localizer_score_is_one_step_of_generate(tiny_sevila):
    model = tiny_sevila
    p = prompts.qa_prompts("what is red", ["a circle", "a square"])
    raw = model.encode_frames(torch.randn(1, 3, 3, 32, 32))
    scores = model.localizer(raw, [p.localizer])  # (1, 3)
    queries = model.localizer.head(raw.flatten(0, 1))
    embeds, mask = model.language.per_frame_inputs(queries, [p.localizer] * 3)
    generated = model.language_model.generate(
        inputs_embeds=embeds, attention_mask=mask, max_new_tokens=1, do_sample=False,
        output_logits=True, return_dict_in_generate=True,
    )
    expected = generated.logits[0][:, model.language.yes_id]
    torch.testing.assert_close(scores[0], expected, rtol=1e-5, atol=1e-5)


def test_localizer_per_frame_input_layout_is_prefix_queries_text(tiny_sevila):
    model = tiny_sevila
    text = prompts.qa_prompts("what is red", ["a circle", "a square"]).localizer
    queries = torch.zeros(2, 4, model.language_model.config.d_model)
    embeds, mask = model.language.per_frame_inputs(queries, [text, text])
    text_len = len(model.language.tokenizer(text).input_ids)  # includes </s> as the original
    assert embeds.shape[1] == 3 + 4 + text_len  # [▁Frame, :, ▁] + Q queries + text
    assert mask.shape == embeds.shape[:2] and bool(mask.all())


def test_localizer_loss_scores_match_forward(tiny_sevila):
    model = tiny_sevila
    text = prompts.moment_prompt("a red circle")
    raw = model.encode_frames(torch.randn(1, 3, 3, 32, 32))
    loss, yes_no = model.localizer.loss(raw, [text], torch.tensor([[True, False, True]]))
    assert loss.ndim == 0 and loss.item() > 0
    torch.testing.assert_close(yes_no[..., 0], model.localizer(raw, [text]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_localizer_keyframes_match_the_originals_generate_scoring(tiny_sevila, seed):
    # The original scores frames with greedy generate() (its evaluation defaults: max 30 new tokens, min_length 1)
    # and reads the yes-logit of the first step; our single decoder step must pick the same top-k frames.
    model, frames, k = tiny_sevila, 8, 3
    torch.manual_seed(seed)
    texts = [prompts.qa_prompts("what color is the circle", ["red", "blue", "green"]).localizer,
             prompts.qa_prompts("what shape is red", ["a circle", "a square"]).localizer]
    raw = model.encode_frames(torch.randn(len(texts), frames, 3, 32, 32))
    ours = top_k_keyframes(model.localizer(raw, texts), k)
    queries = model.localizer.head(raw.flatten(0, 1))
    embeds, mask = model.language.per_frame_inputs(queries, [text for text in texts for _ in range(frames)])
    generated = model.language_model.generate(
        inputs_embeds=embeds, attention_mask=mask, do_sample=False, num_beams=1, max_new_tokens=30, min_length=1,
        output_scores=True, return_dict_in_generate=True,
    )
    original_scores = generated.scores[0][:, model.language.yes_id].view(len(texts), frames)
    original = original_scores.topk(k, dim=1).indices.sort(dim=1).values
    assert ours.tolist() == original.tolist()
