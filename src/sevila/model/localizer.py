"""The Localizer: a yes-score per frame (method §4); `model.keyframes` turns the scores into the top k."""

from __future__ import annotations

from torch import Tensor

from sevila.model.query_head import HeadedModule


class Localizer(HeadedModule):
    """Scores each candidate frame alone with the yes/no prompt; trainable part: its query head."""

    def forward(self, raw: Tensor, texts: list[str], chunk_size: int | None = None) -> Tensor:
        """Frame scores (B, T): raw `yes` logit at the first decoder step; raw (B, T, P, Dv); `chunk_size`
        (question, frame) pairs per T5 call (None: all B*T at once)."""
        b, t = raw.shape[:2]
        scores = self.language.per_frame(self.language.yes_scores, self.frame_queries(raw), texts, chunk_size)
        return scores.view(b, t)

    def loss(self, raw: Tensor, texts: list[str], labels: Tensor) -> tuple[Tensor, Tensor]:
        """T5 loss on per-frame `yes`/`no` targets (labels bool (B, T)); also the first-step logits (B, T, 2) of yes, no."""
        targets = ["yes" if positive else "no" for positive in labels.flatten().tolist()]
        queries = self.head(raw.flatten(0, 1))  # (B*T, Q, D)
        inputs = self.language.frame_inputs(queries, *self.language.frame_texts(texts, raw.shape[1]))
        loss, logits = self.language.target_loss(*inputs, targets)
        yes_no = logits[:, 0, [self.language.yes_id, self.language.no_id]].float()  # (B*T, 2)
        return loss, yes_no.view(*labels.shape, 2)
