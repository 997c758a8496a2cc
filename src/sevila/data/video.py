"""Which frames SeViLA looks at (sevila-method.md §7) and the PyAV sampler that decodes them.

Frame numbering is in frame_table, the decoding (one checked seek per GOP run, threaded decoders)
in gop_decode, opening files and the error every read problem becomes in video_file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from itertools import pairwise

import av
import numpy as np
import torch

from sevila.data.frame_table import FrameTable, scan
from sevila.data.gop_decode import check_present, decode_frames
from sevila.data.video_file import Container, VideoError, average_fps, open_video, packets, read_errors

__all__ = ["SampledFrames", "VideoError", "VideoInfo", "check_video", "probe_video", "sample_frames", "segment_indices"]

log = logging.getLogger(__name__)


@dataclass
class VideoInfo:
    """Facts about a video from its container header (`sample_frames` recounts the frames)."""

    num_frames: int
    fps: float
    duration: float
    width: int
    height: int


@dataclass
class SampledFrames:
    """Frames of one clip: `frames` uint8 (T, 3, size, size), their frame `indices`, the average `fps`."""

    frames: torch.Tensor
    indices: list[int]
    fps: float


def segment_indices(
    lo: int,
    hi: int,
    num_frames: int,
    train: bool = False,
    generator: torch.Generator | None = None,
    total_frames: int | None = None,
) -> list[int]:
    """Indices of `num_frames` frames, one per equal segment of the frames lo..hi-1."""
    # The original's rule (sevila-method.md §7, LAVIS load_video): hi is exclusive (the frame count
    # for a whole video, int(end_s * fps) clamped to it for a span); boundaries are
    # linspace(lo, hi, m + 1) cast to int with m = min(num_frames, frames in the whole video), so
    # only a video shorter than num_frames pads with its last index, while a short span inside a
    # long video repeats its frames evenly. total_frames defaults to hi - lo.
    if num_frames < 1 or not 0 <= lo < hi:
        raise ValueError(f"segment_indices needs num_frames >= 1 and 0 <= lo < hi, got {num_frames}, {lo}, {hi}")
    count = min(num_frames, hi - lo if total_frames is None else total_frames)
    bounds = np.linspace(lo, hi, count + 1).astype(int).tolist()
    segments = list(pairwise(bounds))
    if train:
        picks = [a if a == b else a + int(torch.randint(b - a, (1,), generator=generator)) for a, b in segments]
    else:
        picks = [(a + b) // 2 for a, b in segments]
    return picks + picks[-1:] * (num_frames - len(picks))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, fps, duration and size from the header; frames are counted only if undeclared."""
    with read_errors(path), open_video(path) as container:
        stream = container.streams.video[0]
        num_frames = stream.frames or sum(not p.is_discard for p in packets(container, stream))
        fps = average_fps(stream, num_frames)
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = container.duration / av.time_base if container.duration else num_frames / (fps or 1.0)
        return VideoInfo(num_frames, fps, duration, stream.codec_context.width, stream.codec_context.height)


def sample_frames(
    path: str | os.PathLike[str],
    num_frames: int,
    span: tuple[float, float] | None = None,
    train: bool = False,
    size: int = 224,
    generator: torch.Generator | None = None,
    threads: int = 0,
) -> SampledFrames:
    """Decode the frames SeViLA samples from a video or its (start_s, end_s) span; threads 0 = auto."""
    if size < 1 or threads < 0:
        raise ValueError(f"sample_frames needs size >= 1 and threads >= 0, got size={size}, threads={threads}")
    with read_errors(path), open_video(path) as container:
        table, indices = _plan(container, path, num_frames, span, train, generator)
        images = decode_frames(path, container, table, indices, size, threads or _auto_threads())
    frames = np.stack([images[i] for i in indices]).transpose(0, 3, 1, 2)  # (T, 3, size, size)
    return SampledFrames(torch.from_numpy(np.ascontiguousarray(frames)), indices, table.fps)


def check_video(path: str | os.PathLike[str], num_frames: int, span: tuple[float, float] | None = None) -> None:
    """Open and index a video without decoding it, failing as `sample_frames` would on a damaged or cut file.

    For commands that check every input before loading any weights (one demux pass; frames that are
    present but undecodable are found only by decoding them).
    """
    with read_errors(path), open_video(path) as container:
        table, indices = _plan(container, path, num_frames, span, train=False, generator=None)
        check_present(path, table, indices)


def _plan(
    container: Container, path: object, num_frames: int, span: tuple[float, float] | None, train: bool,
    generator: torch.Generator | None,
) -> tuple[FrameTable, list[int]]:
    """The scan of the file and the frame indices to sample from it (evaluation rule unless `train`)."""
    table = scan(container, path)
    lo, hi = (0, table.num_frames) if span is None else _span_range(table, span, path)
    return table, segment_indices(lo, hi, num_frames, train, generator, table.num_frames)


def _auto_threads() -> int:
    """The cores this process may use, shared out among DataLoader workers when called in one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    worker = torch.utils.data.get_worker_info()
    return max(1, cores // (worker.num_workers if worker is not None else 1))


def _span_range(table: FrameTable, span: tuple[float, float], path: object) -> tuple[int, int]:
    """Frame range [lo, hi) of a (start_s, end_s) span, clamped to the video."""
    start_s, end_s = span
    if not end_s >= start_s:  # also NaN
        raise VideoError(f"{path}: span {span} is not (start_s, end_s) seconds with start_s <= end_s")
    steps = np.diff(table.pts)
    if steps.size == 0 or np.ptp(steps) <= max(1, 0.02 * np.median(steps)):
        # Constant frame rate: the original's int(seconds * average fps) (sevila-method.md §7).
        lo, hi = int(start_s * table.fps), int(end_s * table.fps)
    else:
        # Variable frame rate: the frame on screen at each second, found by timestamps.
        lo, hi = (int(np.searchsorted(table.seconds, s, side="right")) - 1 for s in span)
    if lo >= table.num_frames:
        # The original clamps too, so its numbers include such clips; say so, as the annotation is suspect.
        log.warning("%s: span %s starts after the video's last frame (%d frames); using its last frame", path, span,
                    table.num_frames)
    lo = min(max(lo, 0), table.num_frames - 1)
    return lo, min(max(hi, lo + 1), table.num_frames)
