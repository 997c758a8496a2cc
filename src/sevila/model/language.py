"""The frozen Flan-T5 as both modules use it: prompt layouts, one-step scoring, target loss (method §3-§5)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from sevila import prompts
from sevila.model.chunks import over_chunks
from sevila.model.precision import autocast_to, promoted_cat
from sevila.model.tokenizer import encode_prefix, single_token_id


class PromptedT5:
    """Holds the shared frozen T5 and tokenizer; not an nn.Module, so the T5 is registered only once."""

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.yes_id = single_token_id(tokenizer, "yes")
        self.no_id = single_token_id(tokenizer, "no")
        targets = [tokenizer(prompts.answer_target(i), add_special_tokens=False).input_ids for i in range(5)]
        if any(len(t) != 2 or t[0] != targets[0][0] for t in targets):
            raise ValueError(f"tokenizer must encode 'Option X' as [Option, X]; got {targets}")
        self.option_word_id = targets[0][0]  # decoder position 0 is `Option`, the letter is read at 1 (§5)
        self.option_ids = [t[1] for t in targets]
        self.frame_prefix_ids = encode_prefix(tokenizer, prompts.FRAME_PREFIX)
        self.start_id = model.config.decoder_start_token_id

    @property
    def device(self) -> torch.device:
        return self.model.shared.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.shared.weight.dtype

    def autocast(self) -> torch.autocast:
        """Every T5 call runs under autocast to its weights' dtype (the original: bf16), off for float32."""
        return autocast_to(self.device, self.dtype)

    def embed(self, ids: Tensor) -> Tensor:
        """Input embeddings of token ids."""
        return self.model.get_input_embeddings()(ids.to(self.device))

    def tokenize(self, texts: list[str], max_length: int = prompts.MAX_TEXT_TOKENS) -> tuple[Tensor, Tensor]:
        """Pad and truncate prompt texts; returns ids and attention mask, both (N, L)."""
        encoded = self.tokenizer(texts, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
        return encoded.input_ids.to(self.device), encoded.attention_mask.to(self.device)

    def prefix_embeds(self, text: str) -> Tensor:
        """Embeddings of a frame prefix (`Frame: ` or `Frame i: `), (Lp, D)."""
        ids = self.frame_prefix_ids if text == prompts.FRAME_PREFIX else encode_prefix(self.tokenizer, text)
        return self.embed(torch.tensor(ids, device=self.device))

    def frame_texts(self, texts: list[str], frames: int) -> tuple[Tensor, Tensor]:
        """Ids and mask (B*F, L) of each of B question texts for each of its F frames: each text tokenized once."""
        ids, mask = self.tokenize(texts)
        return ids.repeat_interleave(frames, dim=0), mask.repeat_interleave(frames, dim=0)

    def per_frame_inputs(self, queries: Tensor, texts: list[str]) -> tuple[Tensor, Tensor]:
        """`[Frame: ; queries; text]` for each of N frames; `texts` has N entries (method §3)."""
        return self.frame_inputs(queries, *self.tokenize(texts))

    def frame_inputs(self, queries: Tensor, text_ids: Tensor, text_mask: Tensor) -> tuple[Tensor, Tensor]:
        """`per_frame_inputs` on tokenized texts, ids and mask (N, L) (`frame_texts`)."""
        n = queries.shape[0]
        prefix = self.prefix_embeds(prompts.FRAME_PREFIX).unsqueeze(0).expand(n, -1, -1)  # (N, Lp, D)
        # bf16 text with fp32 (eval) or fp16 (training) queries promotes to fp32, as in the original on CUDA
        embeds = promoted_cat([prefix, queries, self.embed(text_ids)], dim=1)  # (N, Lp+Q+L, D)
        visual_mask = text_mask.new_ones(n, prefix.shape[1] + queries.shape[1])
        return embeds, torch.cat([visual_mask, text_mask], dim=1)

    def per_frame(
        self, read: Callable[[Tensor, Tensor], Tensor], queries: Tensor, texts: list[str], chunk_size: int | None
    ) -> Tensor:
        """`read` (`yes_scores`, `option_logits`) of `per_frame_inputs` for the B*F (question, frame) pairs of
        queries (B*F, Q, D) and B texts, `chunk_size` pairs per T5 call."""
        ids, mask = self.frame_texts(texts, queries.shape[0] // len(texts))
        return over_chunks(lambda q, i, m: read(*self.frame_inputs(q, i, m)), queries.shape[0], chunk_size,
                           queries, ids, mask)

    def multi_frame_inputs(self, queries: Tensor, texts: list[str]) -> tuple[Tensor, Tensor]:
        """`[Frame 1: ; q_1; ...; Frame K: ; q_K; text]` for B questions; queries (B, K, Q, D) (method §3)."""
        b, k = queries.shape[:2]
        parts = []
        for position in range(k):
            prefix = self.prefix_embeds(prompts.multi_frame_prefix(position + 1)).unsqueeze(0).expand(b, -1, -1)
            parts += [prefix, queries[:, position]]
        visual = promoted_cat(parts, dim=1)  # (B, K*(Lp+Q), D)
        text_ids, text_mask = self.tokenize(texts)
        embeds = promoted_cat([visual, self.embed(text_ids)], dim=1)
        return embeds, torch.cat([text_mask.new_ones(b, visual.shape[1]), text_mask], dim=1)

    def decoder_logits(self, embeds: Tensor, mask: Tensor, decoder_ids: list[int]) -> Tensor:
        """Logits (N, S, V) for a fixed teacher-forced decoder input of S tokens, one encoder pass."""
        decoder_input = torch.tensor([decoder_ids], device=self.device).expand(embeds.shape[0], -1)
        with self.autocast():
            out = self.model(
                inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=decoder_input, use_cache=False
            )
        return out.logits

    def yes_scores(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """Raw `yes` logit at the first decoder step, (N,) (method §4)."""
        return self.decoder_logits(embeds, mask, [self.start_id])[:, 0, self.yes_id].float()

    def option_logits(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """Logits (N, 5) of the option letters at decoder position 1 after `Option` (method §5)."""
        logits = self.decoder_logits(embeds, mask, [self.start_id, self.option_word_id])
        return logits[:, 1, self.option_ids].float()

    def generated_option_logits(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """Logits (N, 5) of the option letters at step 1 of greedy decoding: the official `generate().scores[1]`.

        Step 1 is conditioned on each row's greedy step-0 token, whatever it is (recipe §7). One pass decodes
        [start, Option]: its position 0 is step 0, and where the greedy token is `Option` (as for any fine-tuned
        Answerer) its position 1 is step 1. Only the other rows decode again, on [start, their token].
        """
        with self.autocast():
            encoded = self.model.get_encoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        forced = self._decode(encoded, mask, torch.tensor([[self.start_id, self.option_word_id]], device=self.device))
        greedy = forced[:, 0].argmax(dim=-1)  # (N,) generate()'s first token, ties and dtype as it sees them
        letters = forced[:, 1, self.option_ids].float()  # float before index_copy: CPU autocast promotes it
        other = (greedy != self.option_word_id).nonzero().flatten()
        if other.numel():
            ids = torch.stack([torch.full_like(greedy[other], self.start_id), greedy[other]], dim=1)  # (M, 2)
            rerun = self._decode(encoded[other], mask[other], ids)  # (M, 2, V)
            letters = letters.index_copy(0, other, rerun[:, 1, self.option_ids].float())
        return letters

    def _decode(self, encoded: Tensor, mask: Tensor, decoder_ids: Tensor) -> Tensor:
        """Logits (N, S, V) of a teacher-forced decoder input (1 or N rows, S tokens) on encoder states (N, L, D)."""
        with self.autocast():
            out = self.model(encoder_outputs=(encoded,), attention_mask=mask,
                             decoder_input_ids=decoder_ids.expand(encoded.shape[0], -1), use_cache=False)
        return out.logits

    def target_loss(self, embeds: Tensor, mask: Tensor, targets: list[str]) -> tuple[Tensor, Tensor]:
        """T5 cross-entropy on the target texts, and the logits (N, S, V) it was computed from."""
        encoded = self.tokenizer(targets, padding="longest", return_tensors="pt")
        labels = encoded.input_ids.masked_fill(encoded.attention_mask == 0, -100).to(self.device)
        with self.autocast():
            out = self.model(inputs_embeds=embeds, attention_mask=mask, labels=labels, use_cache=False)
        return out.loss, out.logits
