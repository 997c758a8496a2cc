"""On-disk cache of the frozen ViT's raw tokens per (video file, frame index), fp16 and memory-mapped.

Layout: `<directory>/<video key>/<chunk>.npy` (F, P, D) float16 rows and `<chunk>.json` {"video", "frames"}
naming the video frame index of each row. A chunk is written once (temp file + rename, the .npy before its
.json) and never changed, so readers never see half files and several processes may add chunks to the same
video at once. The video key hashes the file (absolute path, size, mtime), the frame side and the ViT
(`vision_fingerprint`: backbone, weights and dtypes, config, autocast), so a changed video, frame size or ViT
never reuses features.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap
from torch import Tensor, nn

from sevila.errors import SevilaError
from sevila.io import write_json
from sevila.model.digest import weights_digest

FORMAT = 1  # bump when the stored features or the frame pipeline change meaning

FrameEncoder = Callable[[Tensor], Tensor]  # (N, 3, S, S) pixels -> (N, P, D) raw ViT tokens


def vision_fingerprint(backbone: str, vision_model: nn.Module, compute_dtype: torch.dtype) -> str:
    """Everything that changes the ViT's features, so that no other ViT set-up reuses them.

    The backbone name; every weight with its dtype; the config (activation, norm eps, attention kernel: none of
    these are weights); the autocast dtype it runs under (`PrecisionPolicy.vision`: float16 features differ from
    float32 ones by up to ~20x float16's rounding); and float32 matmul/convolution precision (TF32 on GPUs).
    """
    config = getattr(vision_model, "config", None)
    settings = {
        "config": config.to_dict() if config is not None else None,
        "attention": getattr(config, "_attn_implementation", None),
        "autocast": str(compute_dtype),
        "float32_matmul": torch.get_float32_matmul_precision(),
        "cudnn_tf32": torch.backends.cudnn.allow_tf32,
    }
    digest = hashlib.blake2b(json.dumps(settings, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()
    return f"{backbone}|{weights_digest(vision_model)}|{digest}"


def round_to_fp16(features: Tensor) -> Tensor:
    """The stored form of ViT features; fails rather than storing values float16 cannot hold."""
    half = features.to(torch.float16)
    if not torch.isfinite(half).all():
        raise SevilaError(
            "ViT features are outside float16's range (|x| > 65504) or not finite, so the feature cache cannot "
            "store them; remove model.feature_cache"
        )
    return half


class FeatureCache:
    """Raw ViT tokens of video frames in `directory`, computed once by the frozen ViT and read back after."""

    def __init__(self, directory: str | os.PathLike[str], vision: str) -> None:
        """vision: `vision_fingerprint` of the ViT whose features these are."""
        self.directory = Path(directory)
        self.vision = vision
        self._keys: dict[tuple[str, int], str] = {}
        self._rows: dict[str, dict[int, tuple[Path, int]]] = {}  # video key -> frame -> (chunk, row)
        self._chunks_read: dict[str, set[str]] = defaultdict(set)

    def video_key(self, video: str, image_size: int) -> str:
        """Folder name of one video file's features at one frame size under this ViT."""
        if (video, image_size) not in self._keys:
            path = Path(video).resolve()
            stat = path.stat()
            identity = [FORMAT, str(path), stat.st_size, stat.st_mtime_ns, image_size, self.vision]
            digest = hashlib.blake2b(json.dumps(identity).encode(), digest_size=16).hexdigest()
            self._keys[(video, image_size)] = digest
        return self._keys[(video, image_size)]

    def features(self, videos: list[str], frame_indices: Tensor, frames: Tensor, encode: FrameEncoder) -> Tensor:
        """float16 (B, T, P, D) features of frames (B, T, 3, S, S): read where stored, else encoded once and stored.

        Each distinct (video, frame index) of the batch is looked up or encoded once; freshly encoded features
        are rounded to float16 as stored ones are, so a frame gives the same numbers in every epoch.
        """
        b, t = frame_indices.shape
        keys = [self.video_key(video, frames.shape[-1]) for video in videos]
        slots: dict[tuple[str, int], int] = {}  # distinct (video key, frame index) -> slot
        first: list[tuple[int, int]] = []  # the batch position of each slot's first occurrence
        where: list[int] = []  # the slot of each batch position
        for i, key in enumerate(keys):
            for j, frame in enumerate(frame_indices[i].tolist()):
                slot = slots.setdefault((key, frame), len(slots))
                if slot == len(first):
                    first.append((i, j))
                where.append(slot)
        wanted = list(slots)
        found = self._lookup(wanted)
        missing = [slot for slot, hit in enumerate(found) if hit is None]
        parts: list[tuple[list[int], Tensor]] = []
        if missing:
            fresh = round_to_fp16(encode(torch.stack([frames[i, j] for i, j in (first[s] for s in missing)])))
            self._store([wanted[s] for s in missing], [videos[first[s][0]] for s in missing], fresh.cpu().numpy())
            parts.append((missing, fresh))
        hits = [slot for slot, hit in enumerate(found) if hit is not None]
        if hits:
            parts.append((hits, torch.from_numpy(self._read([found[s] for s in hits])).to(frames.device)))
        shapes = {tuple(part.shape[1:]) for _, part in parts}
        if len(shapes) != 1:
            raise SevilaError(f"{self.directory}: stored features have shapes {sorted(shapes)}; delete the folder")
        unique = torch.empty((len(slots), *shapes.pop()), dtype=torch.float16, device=frames.device)
        for chosen, part in parts:
            unique[torch.tensor(chosen, device=frames.device)] = part
        return unique[torch.tensor(where, device=frames.device)].view(b, t, *unique.shape[1:])

    def _lookup(self, wanted: list[tuple[str, int]]) -> list[tuple[Path, int] | None]:
        """Where each (video key, frame) is stored; chunks other processes added since are read on a miss."""
        for key in {key for key, _ in wanted}:
            if key not in self._rows or any(frame not in self._rows[key] for k, frame in wanted if k == key):
                self._read_index(key)
        return [self._rows[key].get(frame) for key, frame in wanted]

    def _read_index(self, key: str) -> None:
        rows = self._rows.setdefault(key, {})
        folder = self.directory / key
        if not folder.is_dir():
            return
        for index in sorted(folder.glob("*.json")):
            if index.name in self._chunks_read[key]:
                continue
            chunk = index.with_suffix(".npy")
            try:
                frames = json.loads(index.read_text(encoding="utf-8"))["frames"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
                message = f"{index}: damaged feature cache index ({error}); delete {folder} to recompute"
                raise SevilaError(message) from error
            if not chunk.is_file():
                raise SevilaError(f"{index}: its features {chunk.name} are missing; delete {folder} to recompute")
            rows.update({int(frame): (chunk, row) for row, frame in enumerate(frames)})
            self._chunks_read[key].add(index.name)

    def _read(self, places: list[tuple[Path, int]]) -> np.ndarray:
        """The stored rows at these places, (N, P, D) float16, each chunk memory-mapped once."""
        by_chunk: dict[Path, list[int]] = defaultdict(list)
        for n, (chunk, _) in enumerate(places):
            by_chunk[chunk].append(n)
        out: np.ndarray | None = None
        for chunk, positions in by_chunk.items():
            stored = np.load(chunk, mmap_mode="r")
            rows = [places[n][1] for n in positions]
            if stored.dtype != np.float16 or stored.ndim != 3 or max(rows) >= len(stored):
                raise SevilaError(f"{chunk}: damaged feature cache chunk; delete {chunk.parent} to recompute")
            if out is None:
                out = np.empty((len(places), *stored.shape[1:]), dtype=np.float16)
            out[positions] = stored[rows]
        assert out is not None, "places is not empty"
        return out

    def _store(self, slots: list[tuple[str, int]], videos: list[str], features: np.ndarray) -> None:
        """Write new features as one chunk per video: the .npy (temp + rename), then its .json index."""
        by_key: dict[str, list[int]] = defaultdict(list)
        for n, (key, _) in enumerate(slots):
            by_key[key].append(n)
        for key, positions in by_key.items():
            folder = self.directory / key
            folder.mkdir(parents=True, exist_ok=True)
            name = uuid.uuid4().hex
            chunk, partial = folder / f"{name}.npy", folder / f".{name}.npy.tmp"
            stored = open_memmap(partial, mode="w+", dtype=np.float16, shape=(len(positions), *features.shape[1:]))
            stored[:] = features[positions]
            stored.flush()
            del stored
            os.replace(partial, chunk)
            frames = [slots[n][1] for n in positions]
            write_json(folder / f"{name}.json", {"video": videos[positions[0]], "frames": frames})
            self._rows.setdefault(key, {}).update({frame: (chunk, row) for row, frame in enumerate(frames)})
            self._chunks_read[key].add(f"{name}.json")
