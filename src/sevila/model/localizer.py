"""The Localizer: a yes-score per frame (method §4); `model.keyframes` turns the scores into the top k."""

from __future__ import annotations

from torch import Tensor

from sevila.model.query_head import HeadedModule


class Localizer(HeadedModule):
    """Scores each candidate frame alone with the yes/no prompt; trainable part: its query head."""

    def _inputs(self, raw: Tensor, texts: list[str]) -> tuple[Tensor, Tensor]:
        b, t = raw.shape[:2]
        queries = self.head(raw.flatten(0, 1))  # (B*T, Q, D)
        per_frame_texts = [text for text in texts for _ in range(t)]
        return self.language.per_frame_inputs(queries, per_frame_texts)

    def forward(self, raw: Tensor, texts: list[str]) -> Tensor:
        """Frame scores (B, T): raw `yes` logit at the first decoder step; raw (B, T, P, Dv)."""
        b, t = raw.shape[:2]
        return self.language.yes_scores(*self._inputs(raw, texts)).view(b, t)

    def loss(self, raw: Tensor, texts: list[str], labels: Tensor) -> tuple[Tensor, Tensor]:
        """T5 loss on per-frame `yes`/`no` targets (labels bool (B, T)); also the first-step logits (B, T, 2) of yes, no."""
        targets = ["yes" if positive else "no" for positive in labels.flatten().tolist()]
        loss, logits = self.language.target_loss(*self._inputs(raw, texts), targets)
        yes_no = logits[:, 0, [self.language.yes_id, self.language.no_id]].float()  # (B*T, 2)
        return loss, yes_no.view(*labels.shape, 2)
