from __future__ import annotations

import torch

from sevila import prompts
from sevila.model.answerer import mask_options


def test_answerer_masks_letters_beyond_option_count():
    logits = mask_options(torch.zeros(2, 5), torch.tensor([2, 5]))
    assert torch.isinf(logits[0, 2:]).all() and torch.isfinite(logits[0, :2]).all()
    assert torch.isfinite(logits[1]).all()


def test_answerer_multi_frame_layout_numbers_keyframes(tiny_sevila):
    model = tiny_sevila
    text = prompts.qa_prompts("what is red", ["a", "b"]).answerer
    queries = torch.zeros(1, 3, 4, model.language_model.config.d_model)  # (B, K, Q, D)
    embeds, _ = model.language.multi_frame_inputs(queries, [text])
    text_len = len(model.language.tokenizer(text).input_ids)
    assert embeds.shape[1] == 3 * (4 + 4) + text_len  # K x ([▁Frame, ▁i, :, ▁] + Q) + text
    frame2 = model.language.prefix_embeds("Frame 2: ")
    torch.testing.assert_close(embeds[0, 8:12], frame2)


def test_answerer_option_logits_equal_teacher_forced_loss_logits(tiny_sevila):
    model = tiny_sevila
    texts = [prompts.qa_prompts("q one", ["a", "b", "c"]).answerer, prompts.qa_prompts("q two", list("abcde")).answerer]
    raw = model.encode_frames(torch.randn(2, 2, 3, 32, 32))
    num_options = torch.tensor([3, 5])
    loss, from_loss = model.answerer.loss(raw, texts, num_options, torch.tensor([2, 0]))
    torch.testing.assert_close(from_loss, model.answerer(raw, texts, num_options, readout="teacher_forced"))
    assert loss.item() > 0


def test_answerer_official_readout_is_step_one_after_each_rows_greedy_token(tiny_sevila):
    model, language = tiny_sevila, tiny_sevila.language
    texts = [prompts.qa_prompts("q one", ["a", "b", "c"]).answerer, prompts.qa_prompts("q two", list("abcde")).answerer]
    raw = model.encode_frames(torch.randn(2, 2, 3, 32, 32))
    official = model.answerer(raw, texts, torch.tensor([3, 5]))  # the default read-out
    embeds, mask = model.answerer._keyframe_inputs(raw, texts)
    greedy = language.decoder_logits(embeds, mask, [language.start_id])[:, 0].argmax(-1).tolist()
    assert language.option_word_id not in greedy  # random weights: the read-outs differ, so the test can tell
    for row, token in enumerate(greedy):  # one full teacher-forced pass per row on [start, its greedy token]
        logits = language.decoder_logits(embeds[row : row + 1], mask[row : row + 1], [language.start_id, token])
        expected = logits[0, 1, language.option_ids][: [3, 5][row]]
        torch.testing.assert_close(official[row, : [3, 5][row]], expected, rtol=1e-5, atol=1e-6)
    assert torch.isinf(official[0, 3:]).all()
    forced = model.answerer(raw, texts, torch.tensor([3, 5]), readout="teacher_forced")
    assert not torch.allclose(official[:, :3], forced[:, :3])


def test_answerer_per_frame_matches_single_frame_calls(tiny_sevila):
    model = tiny_sevila
    text = prompts.qa_prompts("q", ["a", "b", "c", "d"]).answerer
    raw = model.encode_frames(torch.randn(1, 3, 3, 32, 32))
    per_frame = model.answerer.per_frame(raw, [text], torch.tensor([4]))  # (1, 3, 5)
    queries = model.answerer.head(raw[0, 1:2])
    single = model.language.option_logits(*model.language.per_frame_inputs(queries, [text]))
    torch.testing.assert_close(per_frame[0, 1, :4], single[0, :4])


def test_answerer_official_readout_keeps_option_rows_and_redecodes_the_others(tiny_sevila):
    model, language = tiny_sevila, tiny_sevila.language
    texts = [prompts.qa_prompts("q one", ["a", "b", "c"]).answerer, prompts.qa_prompts("q two", list("abcde")).answerer]
    raw, num_options = model.encode_frames(torch.randn(2, 2, 3, 32, 32)), torch.tensor([3, 5])
    embeds, mask = model.answerer._keyframe_inputs(raw, texts)
    start = torch.tensor([[language.start_id]] * 2)
    with torch.no_grad():  # make `Option` the greedy first token of row 0 only: its lm_head row orthogonal to row 1's
        hidden = language.model(inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=start,
                                output_hidden_states=True).decoder_hidden_states[-1][:, 0]  # (2, D) lm_head input
        away = hidden[0] - (hidden[0] @ hidden[1]) / (hidden[1] @ hidden[1]) * hidden[1]
        language.model.lm_head.weight[language.option_word_id] = 1e3 * away / away.norm()
        greedy = language.decoder_logits(embeds, mask, [language.start_id])[:, 0].argmax(-1).tolist()
        assert greedy[0] == language.option_word_id != greedy[1]
        official = model.answerer(raw, texts, num_options)
        forced = model.answerer(raw, texts, num_options, readout="teacher_forced")
        redecoded = language.decoder_logits(embeds[1:], mask[1:], [language.start_id, greedy[1]])
        redecoded = redecoded[0, 1, language.option_ids]
    torch.testing.assert_close(official[0], forced[0], rtol=0, atol=0)  # the `Option` row: the teacher-forced pass
    torch.testing.assert_close(official[1], redecoded, rtol=1e-5, atol=1e-6)  # the other row: [start, its token]
    assert not torch.allclose(official[1], forced[1])
