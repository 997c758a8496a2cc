"""A small T5-style tokenizer built locally (tests and the demo), and prefix encoding that keeps "▁"."""

from __future__ import annotations

import string
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from sevila import prompts

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5
SPACE_PIECE = "▁"
_WORD_SCORE = -2.0  # whole words beat any split into characters
_CHAR_SCORE = -10.0


def prompt_words() -> list[str]:
    """Every word the fixed prompts use, so the tiny tokenizer encodes them as single pieces."""
    texts = [
        prompts.qa_prompts("q", ["a"]).answerer,
        prompts.qa_prompts("q", ["a"]).localizer,
        prompts.event_prompts(["a", "b"]).localizer,
        prompts.moment_prompt("q"),
        prompts.FRAME_PREFIX,
        "yes no Option " + " ".join(prompts.OPTION_LETTERS),
    ]
    words = {w.strip(string.punctuation) for text in texts for w in text.split()}
    return sorted(w for w in words if w)


def build_tokenizer(extra_words: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """Build a Unigram tokenizer with T5's pieces layout: whole known words, then single characters."""
    words = sorted(set(prompt_words()) | set(extra_words))
    chars = string.ascii_letters + string.digits + string.punctuation
    vocab: list[tuple[str, float]] = [(token, 0.0) for token in SPECIAL_TOKENS]
    vocab.append((SPACE_PIECE, _CHAR_SCORE))
    vocab += [(SPACE_PIECE + word, _WORD_SCORE) for word in words]
    vocab += [(SPACE_PIECE + c, _CHAR_SCORE + 1) for c in chars if SPACE_PIECE + c not in dict(vocab)]
    vocab += [(c, _CHAR_SCORE) for c in chars]
    backend = Tokenizer(models.Unigram(vocab, unk_id=SPECIAL_TOKENS.index("<unk>"), byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE_PIECE, prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement=SPACE_PIECE, prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def encode_prefix(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of a frame prefix, without special tokens, keeping a trailing space as its own "▁".

    The released SeViLA checkpoint was trained with transformers 4.x fast T5 tokenizers, which encode
    "Frame: " as [▁Frame, :, ▁]; some newer set-ups drop the last "▁" (sevila-method.md §2).
    """
    ids = tokenizer(text, add_special_tokens=False).input_ids
    space_id = tokenizer.convert_tokens_to_ids(SPACE_PIECE)
    if text.endswith(" ") and (not ids or ids[-1] != space_id) and space_id != tokenizer.unk_token_id:
        ids = [*ids, space_id]
    return ids


def single_token_id(tokenizer: PreTrainedTokenizerBase, text: str) -> int:
    """The id of a text that must be exactly one token (e.g. `yes`), read from the tokenizer."""
    ids = tokenizer(text, add_special_tokens=False).input_ids
    if len(ids) != 1:
        pieces = tokenizer.convert_ids_to_tokens(ids)
        raise ValueError(f"tokenizer splits {text!r} into {pieces}; SeViLA needs it to be a single token")
    return ids[0]
