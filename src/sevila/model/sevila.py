"""SeViLA: the forward chain (Localizer -> keyframes -> Answerer) and the reverse chain's pseudo-labels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sevila.model.aggregation import AGGREGATIONS, Aggregation, oracle_logits, vote_scores
from sevila.model.answerer import Answerer, Readout
from sevila.model.backbone import Blip2Parts
from sevila.model.chunks import over_chunks
from sevila.model.keyframes import Selection, all_keyframes, gather_frames, top_k_keyframes, uniform_keyframes
from sevila.model.language import PromptedT5
from sevila.model.localizer import Localizer
from sevila.model.precision import PrecisionPolicy, autocast_to, cast_vision
from sevila.model.pseudo_label_rules import PseudoLabelRule, gated_pseudo_labels
from sevila.model.query_head import FrameQueryHead


@dataclass
class ChainOutput:
    """What the forward chain returns for B questions."""

    # (B, 5) at decoder step 1 (the read-out; teacher-forced with answers), -inf past the options; `vote`: each
    # option's votes plus half its mean probability; `oracle`: the logits of one keyframe (`model.aggregation`)
    option_logits: Tensor
    keyframe_indices: Tensor  # (B, K) positions among the T candidates, in temporal order
    frame_scores: Tensor | None  # (B, T) Localizer yes-logits of all candidates; None when it did not choose
    loss: Tensor | None = None  # the Answerer's T5 loss on the gold `Option X`, when answers were given


class SeViLA(nn.Module):
    """Frozen ViT and T5 shared by a trainable Localizer and Answerer, each with its own query head."""

    def __init__(self, parts: Blip2Parts, num_keyframes: int = 4) -> None:
        super().__init__()
        self.vision_model = parts.vision_model.requires_grad_(False)
        self.language_model = parts.language_model.requires_grad_(False)
        self.language = PromptedT5(self.language_model, parts.tokenizer)
        self.localizer = Localizer(FrameQueryHead.from_blip2(parts), self.language)
        self.answerer = Answerer(FrameQueryHead.from_blip2(parts), self.language)
        self.num_keyframes = num_keyframes
        self.backbone_name = parts.name
        self.precision = PrecisionPolicy()
        # True: the frozen passes (keyframe selection, pseudo-labels) follow the module modes, so in train mode
        # they run with dropout, as the original does (recipe §5); False: they always run in eval mode.
        self.frozen_dropout = True
        # Frames per ViT call and (question, frame) pairs per T5 call of the frozen passes; None: all at once.
        self.chunk_size: int | None = None

    @property
    def image_size(self) -> int:
        """Side of the square frames the ViT expects."""
        return self.vision_model.config.image_size

    def encode_frames(self, frames: Tensor) -> Tensor:
        """Raw ViT tokens before the post-LayerNorm, each frame once: (B, T, 3, H, W) -> (B, T, P, Dv) float32."""
        b, t = frames.shape[:2]
        weight = self.vision_model.embeddings.patch_embedding.weight
        pixels = frames.flatten(0, 1).to(device=weight.device, dtype=weight.dtype)
        hidden = over_chunks(self._vit_tokens, pixels.shape[0], self.chunk_size, pixels)  # (B*T, P, Dv)
        return hidden.view(b, t, *hidden.shape[1:])

    def _vit_tokens(self, pixels: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, P, Dv) raw ViT tokens, under the policy's vision autocast."""
        with autocast_to(pixels.device, self.precision.vision):
            hidden = self.vision_model.embeddings(pixels)
            return self.vision_model.encoder(inputs_embeds=hidden).last_hidden_state

    @torch.no_grad()
    def select(
        self, raw: Tensor, localizer_texts: list[str], selection: Selection = "localizer"
    ) -> tuple[Tensor, Tensor | None]:
        """Keyframes (B, K) among T candidates (B, T, P, Dv), and the Localizer's scores (B, T) when it chose.

        Never builds a graph: no stage trains the Localizer through the chain (method §6).
        """
        b, t = raw.shape[:2]
        if selection == "uniform":
            return uniform_keyframes(t, self.num_keyframes, b, raw.device), None
        if selection == "all":
            return all_keyframes(t, b, raw.device), None
        if selection != "localizer":
            raise ValueError(f"selection={selection!r}; expected 'localizer', 'uniform' or 'all'")
        with self.frozen_pass(self.localizer):
            scores = self.localizer(raw, localizer_texts, self.chunk_size)  # (B, T)
        return top_k_keyframes(scores, self.num_keyframes), scores

    @contextmanager
    def frozen_pass(self, module: nn.Module) -> Iterator[None]:
        """A no-grad pass of `module` and the T5: as they are with `frozen_dropout`, else in eval mode for it."""
        if self.frozen_dropout:
            yield
            return
        modes = [(m, m.training) for m in (module, self.language_model)]
        for m, _ in modes:
            m.eval()
        try:
            yield
        finally:
            for m, mode in modes:
                m.train(mode)

    def forward(
        self,
        raw: Tensor,
        answerer_texts: list[str],
        localizer_texts: list[str],
        num_options: Tensor,
        selection: Selection = "localizer",
        answers: Tensor | None = None,
        readout: Readout = "official",
        aggregation: Aggregation = "concat",
    ) -> ChainOutput:
        """The forward chain (method §4-§5) on raw ViT features of T candidate frames (B, T, P, Dv).

        Keyframes come from the Localizer, the uniform rule or all T candidates (`selection`). `concat`: the
        Answerer reads them in temporal order in one input; without `answers` the letter logits come from
        `readout` (`sevila.model.answerer.Readout`); with `answers` (B,) the Answerer is scored teacher-forced on
        `Option X`, which also gives the loss (Answerer fine-tuning); its position-1 logits equal the
        `teacher_forced` read-out. `vote` and `oracle` read each keyframe alone (`readout`) and combine the
        answers (`sevila.model.aggregation`); `oracle` needs the gold `answers` and gives no loss.
        """
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation={aggregation!r}; expected one of {AGGREGATIONS}")
        keyframes, scores = self.select(raw, localizer_texts, selection)
        chosen = gather_frames(raw, keyframes)  # (B, K, P, Dv)
        if aggregation != "concat":
            if (answers is None) == (aggregation == "oracle"):
                raise ValueError(f"aggregation={aggregation!r} reads the gold answers only for the oracle: "
                                 "pass answers with 'oracle' and without it for 'vote'")
            # (B, K, 5): each keyframe alone, read as the chain reads its answers
            frame_logits = self.answerer.per_frame(chosen, answerer_texts, num_options, readout, self.chunk_size)
            combined = (vote_scores(frame_logits, num_options) if answers is None
                        else oracle_logits(frame_logits, answers))
            return ChainOutput(combined, keyframes, scores)
        if answers is None:
            return ChainOutput(self.answerer(chosen, answerer_texts, num_options, readout), keyframes, scores)
        loss, option_logits = self.answerer.loss(chosen, answerer_texts, num_options, answers)
        return ChainOutput(option_logits, keyframes, scores, loss)

    def train_only(self, modules: tuple[str, ...]) -> SeViLA:
        """Freeze everything but the named modules (`localizer`, `answerer`): each stage's explicit list."""
        self.requires_grad_(False)
        for name in modules:
            getattr(self, name).requires_grad_(True)
        return self

    def set_precision(
        self, vision_dtype: torch.dtype, language_dtype: torch.dtype, heads_training_dtype: torch.dtype = torch.float32
    ) -> SeViLA:
        """Apply a `PrecisionPolicy` (the original: fp16 ViT, bf16 T5, fp16 heads in training); fp32 head weights."""
        if vision_dtype != self.precision.vision:
            cast_vision(self.vision_model, vision_dtype)
        if language_dtype != self.precision.language:
            self.language_model.to(language_dtype)
        self.precision = PrecisionPolicy(vision_dtype, language_dtype, heads_training_dtype)
        self.precision_for_step(training=self.training)
        return self

    def train(self, mode: bool = True) -> SeViLA:
        """Also sets the heads' precision for that kind of step (`precision_for_step`)."""
        super().train(mode)
        self.precision_for_step(training=mode)
        return self

    def precision_for_step(self, training: bool) -> None:
        """Heads autocast to the policy's training dtype in a training step, and compute in fp32 at evaluation.

        Every head follows the step, frozen ones too: the original runs its whole train step under autocast.
        Lightning restores module modes after validation without calling `train()`, so stages call this too.
        """
        for module in (self.localizer, self.answerer):
            module.head.autocast_dtype = self.precision.heads_training if training else torch.float32

    @torch.no_grad()
    def pseudo_labels(
        self, raw: Tensor, answerer_texts: list[str], num_options: Tensor, answers: Tensor,
        rule: PseudoLabelRule = "paper", threshold: float = 0.5,
    ) -> Tensor:
        """Reverse chain (method §6): frame t is a keyframe iff the Answerer, from it alone, picks the gold option
        (`paper`), and for a gated `rule` also by `threshold` (`sevila.model.pseudo_label_rules`)."""
        with self.frozen_pass(self.answerer):
            logits = self.answerer.per_frame(raw, answerer_texts, num_options, chunk_size=self.chunk_size)  # (B, T, 5)
            return gated_pseudo_labels(logits, answers, rule, threshold)
