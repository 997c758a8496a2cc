"""Frame transforms in plain torch: CLIP normalisation and a clip-level RandomResizedCrop (sevila-method.md §7)."""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CROP_ATTEMPTS = 10  # as torchvision's RandomResizedCrop, before its central fallback

# How a crop is resized to the frame size: `smooth` = antialiased bicubic (Keys a=-0.5), rounded; `official` =
# the original's bicubic without antialias (a=-0.75) and its truncating uint8 cast (recipe §6). Both clamp to
# [0, 255] first (see `resized_crop`).
CropResize = Literal["smooth", "official"]
CROP_RESIZES: tuple[CropResize, ...] = ("smooth", "official")


class CropBox(NamedTuple):
    """A crop rectangle in pixels: top row, left column, height, width."""

    top: int
    left: int
    height: int
    width: int


def _clip_stats(device: torch.device) -> tuple[Tensor, Tensor]:
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return mean, std


def normalize(frames: Tensor) -> Tensor:
    """uint8 frames (T, 3, S, S) -> float32 scaled to [0, 1] and standardised with the CLIP mean/std (§7)."""
    _check_frames(frames)
    mean, std = _clip_stats(frames.device)
    return (frames.to(torch.float32) / 255.0 - mean) / std


def denormalize(frames: Tensor) -> Tensor:
    """Inverse of `normalize`: CLIP-standardised float frames (T, 3, S, S) -> uint8, for pictures and logs."""
    mean, std = _clip_stats(frames.device)
    return ((frames.float() * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)


def sample_crop_box(
    height: int,
    width: int,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> CropBox:
    """Draw a box as torchvision's RandomResizedCrop does: 10 tries at a random area/aspect, then a central crop."""
    if not (0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1]):
        raise ValueError(f"scale {scale} must satisfy 0 < low <= high <= 1 and ratio {ratio} 0 < low <= high")
    area = height * width
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(CROP_ATTEMPTS):
        target_area = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_low, log_high, generator))
        crop_w = round(math.sqrt(target_area * aspect))
        crop_h = round(math.sqrt(target_area / aspect))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            top = int(torch.randint(0, height - crop_h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - crop_w + 1, (1,), generator=generator))
            return CropBox(top, left, crop_h, crop_w)
    return _central_box(height, width, ratio)


def resized_crop(frames: Tensor, box: CropBox, size: int, mode: CropResize = "smooth") -> Tensor:
    """Cut `box` out of every frame and resize it to (size, size), bicubic, clamped to [0, 255] (`CropResize`).

    Bicubic overshoots at sharp edges (a 0/255 step reaches -27 and 282). The original casts that float straight
    to uint8, which wraps it around (-1.5 -> 255, 256.2 -> 0) on x86 and saturates on ARM (the conversion is
    undefined in C), turning edge pixels into their opposite; we clamp instead, in both modes.
    """
    if mode not in CROP_RESIZES:
        raise ValueError(f"crop resize mode {mode!r}; expected one of {CROP_RESIZES}")
    _check_frames(frames)
    patch = frames[..., box.top : box.top + box.height, box.left : box.left + box.width].to(torch.float32)
    smooth = mode == "smooth"
    resized = F.interpolate(patch, size=(size, size), mode="bicubic", align_corners=False, antialias=smooth)
    resized = resized.clamp(0.0, 255.0)
    if frames.dtype != torch.uint8:
        return resized
    return (resized.round() if smooth else resized.trunc()).to(torch.uint8)


def random_resized_crop(
    frames: Tensor,
    size: int,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
    mode: CropResize = "smooth",
) -> Tensor:
    """Training augmentation of one clip (T, 3, H, W): one random box shared by all T frames, resized to `size`.

    One box per clip, not per frame: the original's `blip2_video_train` processor applies LAVIS's
    `RandomResizedCropVideo` to the whole (C, T, H, W) clip, so every frame of a sample sees the same
    region and the frames stay spatially aligned (§7). The output keeps the input dtype.
    """
    _check_frames(frames)
    box = sample_crop_box(frames.shape[-2], frames.shape[-1], scale, ratio, generator)
    return resized_crop(frames, box, size, mode)


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=generator))


def _central_box(height: int, width: int, ratio: tuple[float, float]) -> CropBox:
    """torchvision's fallback: the largest centred box whose aspect is clamped into `ratio`."""
    in_ratio = width / height
    if in_ratio < ratio[0]:
        crop_w, crop_h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        crop_w, crop_h = round(height * ratio[1]), height
    else:
        crop_w, crop_h = width, height
    return CropBox((height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w)


def _check_frames(frames: Tensor) -> None:
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected frames of shape (T, 3, H, W), got {tuple(frames.shape)}")
