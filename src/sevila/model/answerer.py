"""The Answerer: option logits from k keyframes (multi-frame) or from each frame alone (method §3, §5)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from sevila import prompts
from sevila.model.query_head import HeadedModule

# How the letter logits are read: `official` = step 1 of greedy decoding after whatever token comes first (the
# original's `generate().scores[1]`, recipe §7); `teacher_forced` = position 1 after a forced `Option` (method §5).
# They agree whenever the greedy first token is `Option` (in practice, any fine-tuned Answerer).
Readout = Literal["official", "teacher_forced"]
READOUTS: tuple[Readout, ...] = ("official", "teacher_forced")


def mask_options(option_logits: Tensor, num_options: Tensor) -> Tensor:
    """Set the logits of letters beyond each question's option count to -inf; logits (..., 5)."""
    letters = torch.arange(option_logits.shape[-1], device=option_logits.device)
    limit = num_options.to(option_logits.device).reshape(-1, *[1] * (option_logits.dim() - 1))  # (B, 1[, 1])
    return option_logits.masked_fill(letters >= limit, float("-inf"))


class Answerer(HeadedModule):
    """Answers a multiple-choice question from frames; trainable part: its query head."""

    def _keyframe_inputs(self, raw_keyframes: Tensor, texts: list[str]) -> tuple[Tensor, Tensor]:
        b, k = raw_keyframes.shape[:2]
        queries = self.head(raw_keyframes.flatten(0, 1))  # (B*K, Q, D)
        return self.language.multi_frame_inputs(queries.view(b, k, *queries.shape[1:]), texts)

    def forward(
        self, raw_keyframes: Tensor, texts: list[str], num_options: Tensor, readout: Readout = "official"
    ) -> Tensor:
        """Option logits (B, 5), invalid letters masked; raw_keyframes (B, K, P, Dv) in temporal order."""
        if readout not in READOUTS:
            raise ValueError(f"readout={readout!r}; expected one of {READOUTS}")
        inputs = self._keyframe_inputs(raw_keyframes, texts)
        if readout == "official":
            return mask_options(self.language.generated_option_logits(*inputs), num_options)
        return mask_options(self.language.option_logits(*inputs), num_options)

    def loss(self, raw_keyframes: Tensor, texts: list[str], num_options: Tensor, answers: Tensor) -> tuple[Tensor, Tensor]:
        """T5 loss on the target `Option X`; also returns the masked option logits (B, 5) at position 1."""
        targets = [prompts.answer_target(a) for a in answers.tolist()]
        loss, logits = self.language.target_loss(*self._keyframe_inputs(raw_keyframes, texts), targets)
        option_logits = logits[:, 1, self.language.option_ids].float()
        return loss, mask_options(option_logits, num_options)

    def per_frame(
        self, raw: Tensor, texts: list[str], num_options: Tensor, readout: Readout = "teacher_forced",
        chunk_size: int | None = None,
    ) -> Tensor:
        """Option logits (B, T, 5) from each frame alone (`Frame: ` layout); raw (B, T, P, Dv); `chunk_size`
        (question, frame) pairs per T5 call (None: all at once).

        Teacher-forced by default, as the pseudo-label rule reads them (method §6); voting reads them as the chain
        reads its answers (`readout`)."""
        if readout not in READOUTS:
            raise ValueError(f"readout={readout!r}; expected one of {READOUTS}")
        b, t = raw.shape[:2]
        read = self.language.generated_option_logits if readout == "official" else self.language.option_logits
        logits = self.language.per_frame(read, self.frame_queries(raw), texts, chunk_size)
        return mask_options(logits.view(b, t, -1), num_options)
