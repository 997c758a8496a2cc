"""torchcodec as a user would sample frames with it today, for benchmarks/decode.py (`make bench-deps`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

try:
    import torchcodec
    from torchcodec.decoders import VideoDecoder
except ImportError:  # built by benchmarks/build_torchcodec.sh; PyPI's wheels need CUDA torch
    torchcodec = None


def run_torchcodec(path: Path, indices: list[int], size: int) -> np.ndarray:
    """The frames at `indices` (default exact seeking, one FFmpeg thread), resized to size x size: (T, S, S, 3) uint8.

    Its public API has no resize, so the frames are resized after decoding, bilinear with antialiasing.
    """
    frames = VideoDecoder(str(path)).get_frames_at(indices).data  # (T, 3, H, W) uint8
    resized = F.interpolate(frames.float(), size=(size, size), mode="bilinear", antialias=True)
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def torchcodec_count(path: Path) -> int:
    """torchcodec's frame count of the video's best stream."""
    return VideoDecoder(str(path)).metadata.num_frames
