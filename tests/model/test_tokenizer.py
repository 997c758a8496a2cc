from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from sevila.model.tokenizer import build_tokenizer, encode_prefix, single_token_id


def test_tokenizer_frame_prefix_keeps_trailing_space_piece(tiny_backbone_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone_dir)
    ids = encode_prefix(tokenizer, "Frame: ")
    assert tokenizer.convert_ids_to_tokens(ids) == ["▁Frame", ":", "▁"]
    assert tokenizer.convert_ids_to_tokens(encode_prefix(tokenizer, "Frame 3: ")) == ["▁Frame", "▁3", ":", "▁"]


def test_tokenizer_pins_prefix_ids_of_tiny_vocabulary(tiny_backbone_dir):
    # Pinned so a tokenizer change cannot silently shift the layout the checkpoints were trained with.
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone_dir)
    assert encode_prefix(tokenizer, "Frame: ") == [tokenizer.convert_tokens_to_ids(t) for t in ("▁Frame", ":", "▁")]
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "</s>", "<unk>"]


def test_encode_prefix_restores_space_piece_a_tokenizer_dropped():
    tokenizer = build_tokenizer()
    ids = tokenizer("Frame:", add_special_tokens=False).input_ids
    assert encode_prefix(tokenizer, "Frame: ") == [*ids, tokenizer.convert_tokens_to_ids("▁")]


def test_target_option_x_is_option_letter_eos():
    tokenizer = build_tokenizer()
    assert tokenizer.convert_ids_to_tokens(tokenizer("Option C").input_ids) == ["▁Option", "▁C", "</s>"]


def test_single_token_id_rejects_multi_piece_words():
    tokenizer = build_tokenizer()
    assert tokenizer.convert_ids_to_tokens([single_token_id(tokenizer, "yes")]) == ["▁yes"]
    with pytest.raises(ValueError, match="single token"):
        single_token_id(tokenizer, "zebra")
