"""LAVIS state-dict keys -> our query heads' names and Hugging Face BLIP-2's, and the keys left out on purpose."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable

from torch import Tensor

from sevila.errors import SevilaError

HEAD_SUFFIXES = {"answerer": "", "localizer": "_loc"}  # our module -> suffix of its LAVIS twins (method §1)
# LAVIS Q-Former names -> transformers' Blip2QFormerModel names, as transformers' own BLIP-2 conversion renames them.
QFORMER_RENAMES = (
    (".embeddings.LayerNorm.", ".layernorm."),
    (".attention.self.", ".attention.attention."),
    (".crossattention.self.", ".crossattention.attention."),
)
# LAVIS EVA ViT (under `visual_encoder.`) -> Blip2VisionModel (under `vision_model.`); CONVERSION rules of method §10.
# `qkv.bias` is not a LAVIS key: EVA keeps `q_bias` and `v_bias`, fused into it by `lavis_backbone.fuse_eva_qkv_bias`.
VIT_RENAMES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"cls_token", "embeddings.class_embedding"),
        (r"pos_embed", "embeddings.position_embedding"),
        (r"patch_embed\.proj\.(weight|bias)", r"embeddings.patch_embedding.\1"),
        (r"blocks\.(\d+)\.norm([12])\.(weight|bias)", r"encoder.layers.\1.layer_norm\2.\3"),
        (r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", r"encoder.layers.\1.self_attn.qkv.\2"),
        (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", r"encoder.layers.\1.self_attn.projection.\2"),
        (r"blocks\.(\d+)\.mlp\.(fc[12])\.(weight|bias)", r"encoder.layers.\1.mlp.\2.\3"),
    )
)
# Keys that are not ours to import into the heads, and why; the first matching pattern names the reason.
SKIPPED = (
    (re.compile(r"visual_encoder\."), "frozen ViT weights (visual_encoder.*): taken from the backbone"),
    (re.compile(r"t5_model\."), "frozen T5 weights (t5_model.*): taken from the backbone"),
    (re.compile(r"Qformer(_loc)?\.bert\.embeddings\.position_ids$"), "Q-Former position_ids buffers"),
    (
        re.compile(
            r"Qformer(_loc)?\.(cls\."
            r"|bert\.embeddings\.(word|position)_embeddings\."
            r"|bert\.encoder\.layer\.\d+\.(intermediate|output)\.)"  # the text FFN; `*_query` is the queries'
        ),
        "Q-Former text-side weights (the Q-Formers see no text; Blip2QFormerModel has no place for them)",
    ),
)
LOCALIZER_SKIP = "Localizer head weights (*_loc): BLIP-2 has one head; they go into the heads output"
_SHOWN = 5  # keys named per kind in an error message


def rename_lavis_key(key: str) -> str | None:
    """Our name (`answerer.head.*` / `localizer.head.*`) of a LAVIS head key, or None if it is not one."""
    for module, suffix in HEAD_SUFFIXES.items():
        head = f"{module}.head."
        if key == f"query_tokens{suffix}":
            return head + "query_tokens"
        if key.startswith(f"t5_proj{suffix}."):
            return head + "language_projection." + key[len(f"t5_proj{suffix}.") :]
        if key.startswith(f"ln_vision{suffix}."):
            return head + "layernorm." + key[len(f"ln_vision{suffix}.") :]
        if key.startswith(f"Qformer{suffix}.bert."):
            rest = key[len(f"Qformer{suffix}.bert") :]  # keeps the leading "." the renames anchor on
            for lavis, ours in QFORMER_RENAMES:
                rest = rest.replace(lavis, ours)
            return head + "qformer" + rest
    return None


def skip_reason(key: str) -> str | None:
    """Why a LAVIS key is deliberately not imported into the heads, or None if it should have been."""
    return next((reason for pattern, reason in SKIPPED if pattern.match(key)), None)


def rename_backbone_key(key: str) -> str | None:
    """The Blip2ForConditionalGeneration name of a LAVIS BLIP-2 key, or None if BLIP-2 has no place for it.

    The unsuffixed head (`Qformer`, `query_tokens`, `t5_proj`, `ln_vision`) is BLIP-2's own; our
    `FrameQueryHead` mirrors BLIP-2's names, except that `ln_vision` is the ViT's `post_layernorm`.
    """
    if key.startswith("t5_model."):
        return "language_model." + key[len("t5_model.") :]
    if key.startswith("visual_encoder."):
        rest = key[len("visual_encoder.") :]
        return next(("vision_model." + p.sub(r, rest) for p, r in VIT_RENAMES if p.fullmatch(rest)), None)
    name = rename_lavis_key(key)
    prefix = "answerer.head."
    if name is None or not name.startswith(prefix):
        return None
    part = name[len(prefix) :]
    return "vision_model.post_" + part if part.startswith("layernorm.") else part


def backbone_skip_reason(key: str) -> str | None:
    """Why a LAVIS key is deliberately not written into the BLIP-2 backbone, or None if it must fit there."""
    if key.startswith(("visual_encoder.", "t5_model.")):
        return None  # every frozen weight must find its place
    name = rename_lavis_key(key)
    if name is not None and name.startswith("localizer."):
        return LOCALIZER_SKIP
    return skip_reason(key)


def _listing(kind: str, items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN]) + (", ..." if len(items) > _SHOWN else "")
    return f"{len(items)} {kind} ({shown})"


def fit_state_dict(
    lavis: dict[str, Tensor],
    target: dict[str, Tensor],
    rename: Callable[[str], str | None],
    skip: Callable[[str], str | None],
    what: str,
    hint: str,
) -> tuple[dict[str, Tensor], Counter[str]]:
    """Rename LAVIS tensors onto `target`'s names and dtypes; returns them and the skipped keys counted by reason.

    Every target tensor must be filled with its exact shape and every LAVIS key must be renamed or skipped,
    otherwise one SevilaError lists all misfits (`what` names the target, `hint` says what fits).
    """
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    misshaped: dict[str, str] = {}
    skipped: Counter[str] = Counter()
    for key, value in lavis.items():
        name = rename(key)
        if name in target and tuple(value.shape) != tuple(target[name].shape):
            misshaped[name] = f"{key} {tuple(value.shape)} (expected {tuple(target[name].shape)} for {name})"
        elif name in target:
            converted[name] = value.detach().to(target[name].dtype)
        elif (reason := skip(key)) is not None:
            skipped[reason] += 1
        else:
            unknown.append(key)
    missing = sorted(set(target) - set(converted) - set(misshaped))
    kinds = (("unknown keys", unknown), ("missing weights", missing), ("mis-shaped keys", list(misshaped.values())))
    problems = [_listing(kind, sorted(items)) for kind, items in kinds if items]
    if problems:
        raise SevilaError(f"LAVIS checkpoint does not fit {what}: {'; '.join(problems)}. {hint}")
    return converted, skipped


def log_skipped(log: logging.Logger, skipped: Counter[str]) -> None:
    """One log line per reason why LAVIS keys were left out on purpose."""
    for reason, count in sorted(skipped.items()):
        log.info("skipped %d keys: %s", count, reason)
