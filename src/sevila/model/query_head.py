"""One module's trainable visual path: its LayerNorm, Q-Former, query tokens and projection (method §1)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from sevila.model.backbone import Blip2Parts
from sevila.model.precision import autocast_to

if TYPE_CHECKING:
    from sevila.model.language import PromptedT5


class FrameQueryHead(nn.Module):
    """Turns one frame's raw ViT tokens into Q soft tokens in the language model's width."""

    def __init__(self, layernorm: nn.LayerNorm, qformer: nn.Module, query_tokens: nn.Parameter, projection: nn.Linear):
        super().__init__()
        self.layernorm = layernorm
        self.qformer = qformer
        self.query_tokens = query_tokens
        self.language_projection = projection
        self.autocast_dtype = torch.float32  # set per step by `SeViLA.precision_for_step`

    @classmethod
    def from_blip2(cls, parts: Blip2Parts) -> FrameQueryHead:
        """A fresh copy of BLIP-2's head: both the Answerer and the Localizer start from it."""
        return cls(
            copy.deepcopy(parts.vision_norm),
            copy.deepcopy(parts.qformer),
            nn.Parameter(parts.query_tokens.detach().clone()),
            copy.deepcopy(parts.language_projection),
        )

    def forward(self, raw_features: Tensor) -> Tensor:
        """raw_features (N, P, Dv) from the ViT before its post-LayerNorm -> (N, Q, Dt), under `autocast_dtype`."""
        with autocast_to(raw_features.device, self.autocast_dtype):
            image = self.layernorm(raw_features.float())  # (N, P, Dv); fp32 input: LAVIS's LayerNorm computes in fp32
            queries = self.query_tokens.expand(image.shape[0], -1, -1)  # (N, Q, Dq)
            image_mask = torch.ones(image.shape[:2], dtype=torch.long, device=image.device)
            out = self.qformer(query_embeds=queries, encoder_hidden_states=image, encoder_attention_mask=image_mask)
            return self.language_projection(out.last_hidden_state)  # (N, Q, Dt)


class HeadedModule(nn.Module):
    """A SeViLA module: its own trainable query head over the shared frozen T5 (not registered here)."""

    def __init__(self, head: FrameQueryHead, language: PromptedT5) -> None:
        super().__init__()
        self.head = head
        self.language = language

    def frame_queries(self, raw: Tensor) -> Tensor:
        """Soft tokens (B*T, Q, Dt) of every frame of raw (B, T, P, Dv), through the head once per distinct clip:
        features expanded over B questions of one clip (stride 0, `inference.answer_questions`) are the same."""
        if raw.shape[0] > 1 and raw.stride(0) == 0:
            return self.head(raw[0]).repeat(raw.shape[0], 1, 1)
        return self.head(raw.flatten(0, 1))
