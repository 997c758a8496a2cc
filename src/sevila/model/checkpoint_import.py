"""Import a LAVIS SeViLA checkpoint (the authors' `sevila_pretrained.pth`) into our two query heads (method §10)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from torch import Tensor

from sevila.errors import SevilaError
from sevila.model.backbone import DEFAULT_BACKBONE, parts_from_model
from sevila.model.head_shapes import backbone_config, head_targets
from sevila.model.head_weights import MODULES, save_head_tensors, save_heads
from sevila.model.lavis_backbone import (
    BackboneExport,
    check_output_dir,
    convert_backbone,
    load_tokenizer,
    read_blip2_config,
    write_backbone,
)
from sevila.model.lavis_keys import HEAD_SUFFIXES, fit_state_dict, log_skipped, rename_lavis_key, skip_reason
from sevila.model.sevila import SeViLA
from sevila.model.torch_files import UnreadableTorchFile, load_weights_only

log = logging.getLogger(__name__)

STAGE_NAME = "sevila_pretrained"


def convert_lavis_state_dict(lavis: dict[str, Tensor], model: SeViLA) -> dict[str, Tensor]:
    """LAVIS state dict -> our head weights: Answerer <- unsuffixed keys, Localizer <- `_loc` keys, shapes checked."""
    heads = tuple(f"{module}.head." for module in HEAD_SUFFIXES)
    target = {k: v for k, v in model.state_dict().items() if k.startswith(heads)}
    return convert_lavis_heads(lavis, target, model.backbone_name)


def convert_lavis_heads(lavis: dict[str, Tensor], target: dict[str, Tensor], backbone: str) -> dict[str, Tensor]:
    """LAVIS state dict -> tensors named and shaped as `target`'s head weights (real or meta tensors)."""
    hint = (
        "Expected the authors' sevila_pretrained.pth and the backbone it was trained on "
        f"({DEFAULT_BACKBONE}, or the --backbone-output written from the same state dict)"
    )
    converted, skipped = fit_state_dict(lavis, target, rename_lavis_key, skip_reason, f"backbone {backbone!r}", hint)
    log_skipped(log, skipped)
    return converted


def read_lavis_checkpoint(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """A LAVIS state dict, bare or under `["model"]` of a training checkpoint; loaded on CPU with `weights_only`."""
    file = Path(path)
    if not file.is_file():
        raise SevilaError(
            f"{file}: LAVIS checkpoint not found; download sevila_pretrained.pth from the SeViLA repository"
        )
    try:
        payload = load_weights_only(file)
    except UnreadableTorchFile as error:
        raise SevilaError(
            f"{file}: not a readable torch checkpoint ({error}); is the download complete? Expected "
            "sevila_pretrained.pth (or a LAVIS state dict): download it again"
        ) from error
    nested = isinstance(payload, dict) and isinstance(payload.get("model"), dict)
    state = payload["model"] if nested else payload
    tensors = isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items())
    if not state or not tensors:
        found = sorted(map(str, payload))[:5] if isinstance(payload, dict) else type(payload).__name__
        raise SevilaError(
            f"{file}: expected a LAVIS state dict or a checkpoint {{'model': state_dict}}, found {found}"
        )
    return state


def _load_heads(lavis: dict[str, Tensor], lavis_path: str | os.PathLike[str], model: SeViLA) -> int:
    try:
        converted = convert_lavis_state_dict(lavis, model)
    except SevilaError as error:
        raise SevilaError(f"{lavis_path}: {error}") from error
    for module in HEAD_SUFFIXES:
        prefix = f"{module}."
        state = {k[len(prefix) :]: v for k, v in converted.items() if k.startswith(prefix)}
        getattr(model, module).load_state_dict(state)
    return len(converted)


def _save_heads(model: SeViLA, output: str | os.PathLike[str], lavis_path: str | os.PathLike[str], count: int) -> None:
    save_heads(model, output, ["localizer", "answerer"], stage=STAGE_NAME)
    log.info("imported %d head weights from %s into %s", count, lavis_path, output)


def import_checkpoint(
    lavis_path: str | os.PathLike[str], output: str | os.PathLike[str], backbone: str = DEFAULT_BACKBONE
) -> Path:
    """Convert a LAVIS SeViLA checkpoint into a stage output holding both heads, written atomically.

    The heads' shapes come from the backbone's config on the meta device: its weights are never loaded.
    """
    lavis = read_lavis_checkpoint(lavis_path)
    try:
        converted = convert_lavis_heads(lavis, head_targets(backbone_config(backbone)), backbone)
    except SevilaError as error:
        raise SevilaError(f"{lavis_path}: {error}") from error
    save_head_tensors(converted, output, list(MODULES), STAGE_NAME, backbone)
    log.info("imported %d head weights from %s into %s", len(converted), lavis_path, output)
    return Path(output)


def import_with_backbone(
    lavis_path: str | os.PathLike[str], export: BackboneExport, output: str | os.PathLike[str] | None = None
) -> Path:
    """Write the frozen BLIP-2 of a whole LAVIS state dict as a folder; with `output`, both heads on top of it.

    Everything is converted and checked before anything is written; the heads are checked against this
    very backbone, so no other copy of it is loaded.
    """
    check_output_dir(export.output_dir)  # the cheap checks first, before reading gigabytes
    config = read_blip2_config(export.config)
    tokenizer = load_tokenizer(export.tokenizer, config)
    lavis = read_lavis_checkpoint(lavis_path)
    try:
        blip2 = convert_backbone(lavis, config, str(export.config or "the bundled blip2-flan-t5-xl config"))
    except SevilaError as error:
        raise SevilaError(f"{lavis_path}: {error}") from error
    if output is None:
        return write_backbone(blip2, tokenizer, export)
    model = SeViLA(parts_from_model(blip2, tokenizer, str(export.output_dir)))
    count = _load_heads(lavis, lavis_path, model)
    write_backbone(blip2, tokenizer, export)
    _save_heads(model, output, lavis_path, count)
    return export.output_dir
