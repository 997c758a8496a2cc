"""Stage outputs: the trained query heads only, as safetensors, loadable on top of any copy of the backbone."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors

from sevila.errors import SevilaError
from sevila.io import atomic_open
from sevila.model.sevila import SeViLA

MODULES = ("localizer", "answerer")


def save_heads(model: SeViLA, path: str | os.PathLike[str], modules: Sequence[str], stage: str) -> None:
    """Write the named modules' weights (`localizer.*`, `answerer.*`) with stage and backbone as metadata."""
    tensors = {f"{name}.{key}": value for name in modules for key, value in getattr(model, name).state_dict().items()}
    save_head_tensors(tensors, path, modules, stage, model.backbone_name)


def save_head_tensors(
    tensors: dict[str, torch.Tensor], path: str | os.PathLike[str], modules: Sequence[str], stage: str, backbone: str
) -> None:
    """Write head weights already named as in a stage output (`localizer.head.*`), atomically."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    metadata = {"stage": stage, "backbone": backbone, "modules": json.dumps(list(modules))}
    with atomic_open(path, "wb") as handle:
        handle.write(save_safetensors(tensors, metadata=metadata))


def read_heads(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a stage output; a missing or damaged file is a clear error."""
    with _opened(path) as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}, handle.metadata() or {}


def stored_modules(path: str | os.PathLike[str]) -> list[str]:
    """The modules (localizer, answerer) a stage output holds, from its header alone: a check before any loading."""
    with _opened(path) as handle:
        keys = list(handle.keys())
    modules = [name for name in MODULES if any(key.startswith(f"{name}.") for key in keys)]
    if not modules:
        raise SevilaError(f"{path}: holds neither localizer nor answerer weights; is it a sevila stage output?")
    return modules


@contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[Any]:
    """The stage output opened with safetensors; a missing or damaged file is a SevilaError."""
    file = Path(path)
    if not file.is_file():
        raise SevilaError(f"{file}: stage output not found; run the stage that writes it first (see `make help`)")
    try:
        with safe_open(str(file), framework="pt") as handle:
            yield handle
    except (SafetensorError, OSError, ValueError) as error:
        raise SevilaError(f"{file}: not a readable safetensors stage output ({error}); re-run the stage") from error


def load_heads(model: SeViLA, path: str | os.PathLike[str], module: str) -> dict[str, str]:
    """Load `module` (localizer or answerer) from a stage output; shapes must match this backbone."""
    tensors, metadata = read_heads(path)
    _load_module(model, tensors, metadata, path, module)
    return metadata


def _load_module(
    model: SeViLA, tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: str | os.PathLike[str], module: str
) -> None:
    prefix = f"{module}."
    state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
    if not state:
        stored = sorted({key.split(".")[0] for key in tensors})
        raise SevilaError(f"{path}: holds no {module} weights (it has {stored}, stage {metadata.get('stage')!r})")
    target = getattr(model, module).state_dict()
    wrong = [k for k, v in state.items() if k in target and target[k].shape != v.shape]
    if wrong or set(state) != set(target):
        raise SevilaError(
            f"{path}: {module} weights do not fit this backbone ({model.backbone_name}); they were trained on "
            f"{metadata.get('backbone')!r}. Mismatched: {sorted(wrong)[:3]}, "
            f"missing: {sorted(set(target) - set(state))[:3]}, unexpected: {sorted(set(state) - set(target))[:3]}"
        )
    getattr(model, module).load_state_dict(state)


def load_all_heads(model: SeViLA, path: str | os.PathLike[str]) -> list[str]:
    """Load every module (localizer, answerer) a stage output holds; returns their names."""
    tensors, metadata = read_heads(path)
    modules = [name for name in MODULES if any(key.startswith(f"{name}.") for key in tensors)]
    if not modules:
        raise SevilaError(f"{path}: holds neither localizer nor answerer weights; is it a sevila stage output?")
    for name in modules:
        _load_module(model, tensors, metadata, path, name)
    return modules
