"""Import the authors' released LAVIS checkpoint (`sevila_pretrained.pth`) into our two query heads (method §10)."""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections import Counter
from pathlib import Path

import torch
from torch import Tensor

from sevila.errors import SevilaError
from sevila.model.backbone import DEFAULT_BACKBONE, load_blip2
from sevila.model.sevila import SeViLA
from sevila.model.head_weights import save_heads

log = logging.getLogger(__name__)

STAGE_NAME = "sevila_pretrained"
HEAD_SUFFIXES = {"answerer": "", "localizer": "_loc"}  # our module -> suffix of its LAVIS twins (method §1)
# LAVIS Q-Former names -> transformers' Blip2QFormerModel names, as transformers' own BLIP-2 conversion renames them.
QFORMER_RENAMES = (
    (".embeddings.LayerNorm.", ".layernorm."),
    (".attention.self.", ".attention.attention."),
    (".crossattention.self.", ".crossattention.attention."),
)
# Keys that are not ours to import, and why; the first matching pattern names the reason.
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
    """Why a LAVIS key is deliberately not imported, or None if it should have been ours."""
    return next((reason for pattern, reason in SKIPPED if pattern.match(key)), None)


def _listing(kind: str, items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN]) + (", ..." if len(items) > _SHOWN else "")
    return f"{len(items)} {kind} ({shown})"


def _raise_on_problems(backbone: str, unknown: list[str], missing: list[str], misshaped: list[str]) -> None:
    kinds = (("unknown keys", unknown), ("missing weights", missing), ("mis-shaped keys", misshaped))
    problems = [_listing(kind, sorted(items)) for kind, items in kinds if items]
    if problems:
        raise SevilaError(
            f"LAVIS checkpoint does not fit backbone {backbone!r}: {'; '.join(problems)}. Expected the authors' "
            f"sevila_pretrained.pth and the backbone it was trained on ({DEFAULT_BACKBONE})"
        )


def convert_lavis_state_dict(lavis: dict[str, Tensor], model: SeViLA) -> dict[str, Tensor]:
    """LAVIS state dict -> our head weights: Answerer <- unsuffixed keys, Localizer <- `_loc` keys, shapes checked."""
    target = {k: v for k, v in model.state_dict().items() if k.startswith(tuple(f"{m}.head." for m in HEAD_SUFFIXES))}
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    misshaped: dict[str, str] = {}
    skipped: Counter[str] = Counter()
    for key, value in lavis.items():
        name = rename_lavis_key(key)
        if name in target and tuple(value.shape) != tuple(target[name].shape):
            misshaped[name] = f"{key} {tuple(value.shape)} (expected {tuple(target[name].shape)} for {name})"
        elif name in target:
            converted[name] = value.detach().to(target[name].dtype)
        elif (reason := skip_reason(key)) is not None:
            skipped[reason] += 1
        else:
            unknown.append(key)
    missing = sorted(set(target) - set(converted) - set(misshaped))
    _raise_on_problems(model.backbone_name, unknown, missing, list(misshaped.values()))
    for reason, count in sorted(skipped.items()):
        log.info("skipped %d keys: %s", count, reason)
    return converted


def read_lavis_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The state dict under `["model"]` of a LAVIS checkpoint, loaded with `weights_only=True` on CPU."""
    file = Path(path)
    if not file.is_file():
        raise SevilaError(
            f"{file}: LAVIS checkpoint not found; download sevila_pretrained.pth from the SeViLA repository"
        )
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
        raise SevilaError(
            f"{file}: not a readable torch checkpoint ({first_line}); expected sevila_pretrained.pth"
        ) from error
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        found = sorted(map(str, payload))[:5] if isinstance(payload, dict) else type(payload).__name__
        raise SevilaError(f"{file}: expected a LAVIS checkpoint {{'model': state_dict}}, found {found}")
    return state


def import_checkpoint(
    lavis_path: str | os.PathLike[str], output: str | os.PathLike[str], backbone: str = DEFAULT_BACKBONE
) -> Path:
    """Convert a LAVIS SeViLA checkpoint into a stage output holding both heads, written atomically."""
    lavis = read_lavis_checkpoint(lavis_path)
    model = SeViLA(load_blip2(backbone))
    try:
        converted = convert_lavis_state_dict(lavis, model)
    except SevilaError as error:
        raise SevilaError(f"{lavis_path}: {error}") from error
    for module in HEAD_SUFFIXES:
        prefix = f"{module}."
        state = {k[len(prefix) :]: v for k, v in converted.items() if k.startswith(prefix)}
        getattr(model, module).load_state_dict(state)
    save_heads(model, output, ["localizer", "answerer"], stage=STAGE_NAME)
    log.info("imported %d head weights from %s into %s", len(converted), lavis_path, output)
    return Path(output)
