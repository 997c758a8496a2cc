"""PyAV frame sampling: SeViLA's frame indices (sevila-method.md §7), decoding only what they need."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from sevila.errors import SevilaError

log = logging.getLogger(__name__)

# A counted frame total this close to the declared one is a header inaccuracy, not a truncated file.
_COUNT_SLACK = 0.01


class VideoError(SevilaError):
    """A video that cannot be opened or decoded; the message names the file and the reason."""


@dataclass
class VideoInfo:
    """Facts about a video read from its container header."""

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
    """Indices of `num_frames` frames, one per equal segment of frames lo..hi-1 (sevila-method.md §7).

    `hi` is exclusive, as in the original: the frame count for a whole video, or int(end_s * fps)
    clamped to it for a span. The original makes min(num_frames, total_frames) segments, where
    total_frames is the whole video's frame count (default hi - lo), and pads with the last index;
    so only a video shorter than num_frames pads, while a short span inside a long video repeats
    its frames evenly. Evaluation takes each segment's midpoint, training one random frame in it.
    """
    if num_frames < 1 or not 0 <= lo < hi:
        raise ValueError(f"segment_indices needs num_frames >= 1 and 0 <= lo < hi, got {num_frames}, {lo}, {hi}")
    count = min(num_frames, hi - lo if total_frames is None else total_frames)
    bounds = np.linspace(lo, hi, count + 1).astype(int).tolist()
    segments = list(zip(bounds[:-1], bounds[1:]))
    if train:
        picks = [a if a == b else a + int(torch.randint(b - a, (1,), generator=generator)) for a, b in segments]
    else:
        picks = [(a + b) // 2 for a, b in segments]
    return picks + picks[-1:] * (num_frames - len(picks))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, fps, duration and size from the header; frames are counted only if undeclared."""
    with _open(path) as container:
        stream = container.streams.video[0]
        num_frames = stream.frames or sum(1 for _ in _packets(container, stream))
        fps = _average_fps(stream, num_frames)
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = num_frames / fps
        return VideoInfo(num_frames, fps, duration, stream.codec_context.width, stream.codec_context.height)


def sample_frames(
    path: str | os.PathLike[str],
    num_frames: int,
    span: tuple[float, float] | None = None,
    train: bool = False,
    size: int = 224,
    generator: torch.Generator | None = None,
) -> SampledFrames:
    """Decode the `num_frames` frames SeViLA samples from a video or a (start_s, end_s) span of it."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: both cores decode
        table = _scan(container, stream, path)
        lo, hi = (0, table.num_frames) if span is None else _span_range(table, span, path)
        indices = segment_indices(lo, hi, num_frames, train, generator, table.num_frames)
        images = _decode_frames(container, stream, table, indices, size, path)
    frames = torch.from_numpy(np.ascontiguousarray(np.stack([images[i] for i in indices]).transpose(0, 3, 1, 2)))
    return SampledFrames(frames, indices, table.fps)


def _open(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open a file that holds a video stream, or raise one VideoError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: file is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError) as error:
        raise VideoError(f"{path}: not a readable video ({error}); is it truncated or another format?") from error
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        container.close()
        raise VideoError(f"{path}: no video stream (streams: {kinds})")
    return container


def _average_fps(stream: av.video.stream.VideoStream, num_frames: int) -> float:
    """The average frame rate, as decord's get_avg_fps reports it, or frames / duration."""
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        return float(rate)
    if stream.duration:
        return num_frames / float(stream.duration * stream.time_base)
    return 0.0


def _timestamp(packet: av.Packet) -> int | None:
    return packet.pts if packet.pts is not None else packet.dts


def _packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.Packet]:
    """The stream's frame packets in decode order; a read error (truncated file) ends the stream."""
    try:
        for packet in container.demux(stream):
            if packet.size and not packet.is_discard and _timestamp(packet) is not None:
                yield packet
    except av.FFmpegError as error:
        log.debug("%s: demuxing stopped early: %s", container.name, error)


@dataclass
class _FrameTable:
    """Frame index (presentation order, sevila-method.md §7) versus packet position (decode order)."""

    pts: np.ndarray  # (N,) timestamp of each frame, ascending
    decode_pos: np.ndarray  # (N,) decode position of each frame's packet
    packet_pts: np.ndarray  # (P,) timestamp of each packet, decode order
    position: dict[int, int]  # timestamp -> decode position
    keyframes: np.ndarray  # decode positions where decoding can start, ascending
    num_frames: int  # frames in the video: the declared count when packets are missing (truncated)
    fps: float
    time_base: Fraction


def _scan(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: object) -> _FrameTable:
    """Index every packet's timestamp and keyframe flag without decoding (what decord does at open)."""
    stamps, keys = [], []
    for packet in _packets(container, stream):
        stamps.append(_timestamp(packet))
        keys.append(packet.is_keyframe)
    if not stamps:
        raise VideoError(f"{path}: the video stream holds no frames")
    packet_pts = np.asarray(stamps, dtype=np.int64)
    order = np.argsort(packet_pts, kind="stable")
    position = {ts: pos for pos, ts in enumerate(stamps)}
    if len(position) < len(stamps):
        raise VideoError(f"{path}: {len(stamps) - len(position)} frames share a timestamp; cannot order frames")
    keys[0] = True  # decoding can always start at the first packet
    declared, counted = stream.frames, len(stamps)
    truncated = declared - counted > max(1, _COUNT_SLACK * declared)
    if declared and declared != counted and not truncated:
        log.debug("%s: header declares %d frames, counted %d; using the count", path, declared, counted)
    return _FrameTable(
        pts=packet_pts[order],
        decode_pos=order,
        packet_pts=packet_pts,
        position=position,
        keyframes=np.flatnonzero(keys),
        num_frames=declared if truncated else counted,
        fps=_average_fps(stream, counted),
        time_base=stream.time_base,
    )


def _span_range(table: _FrameTable, span: tuple[float, float], path: object) -> tuple[int, int]:
    """Frame range [lo, hi) of a (start_s, end_s) span, clamped to the video."""
    start_s, end_s = span
    if not end_s >= start_s:
        raise VideoError(f"{path}: span {span} ends before it starts")
    diffs = np.diff(table.pts)
    if diffs.size == 0 or np.ptp(diffs) <= max(1, 0.02 * np.median(diffs)):
        # Constant frame rate: the original's int(seconds * average fps).
        lo, hi = int(start_s * table.fps), int(end_s * table.fps)
    else:
        # Variable frame rate: the frame on screen at each second, by timestamps.
        seconds = (table.pts - table.pts[0]) * float(table.time_base)
        lo, hi = (int(np.searchsorted(seconds, s, side="right")) - 1 for s in span)
    lo = min(max(lo, 0), table.num_frames - 1)
    return lo, min(max(hi, lo + 1), table.num_frames)


@dataclass
class _Run:
    """One seek: decode packets start..stop (decode order), keep frames whose timestamps are wanted."""

    start: int
    stop: int
    wanted: set[int]


def _plan_runs(table: _FrameTable, frames: list[int]) -> list[_Run]:
    """Group wanted frames by the keyframe they decode from; adjacent groups share one seek."""
    runs = []
    for frame in sorted(set(frames)):
        pos, pts = int(table.decode_pos[frame]), int(table.pts[frame])
        k = int(np.searchsorted(table.keyframes, pos, side="right")) - 1
        # An open GOP's leading frames show before their keyframe and need the GOP before it.
        while k > 0 and table.packet_pts[table.keyframes[k]] > pts:
            k -= 1
        runs.append(_Run(int(table.keyframes[k]), pos, {pts}))
    runs.sort(key=lambda run: run.start)
    merged = runs[:1]
    for run in runs[1:]:
        last = merged[-1]
        if run.start <= last.stop + 1:
            last.stop, last.wanted = max(last.stop, run.stop), last.wanted | run.wanted
        else:
            merged.append(run)
    return merged


def _packets_from(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, table: _FrameTable, start: int
) -> Iterator[av.Packet]:
    """Packets from decode position `start` on; seeks there, or to an earlier keyframe if it overshoots."""
    for seek_pos in [start, *table.keyframes[table.keyframes < start][::-1].tolist()]:
        container.seek(int(table.packet_pts[seek_pos]), stream=stream)
        packets = _packets(container, stream)
        for packet in packets:
            pos = table.position.get(_timestamp(packet), -1)
            if pos == start:
                yield packet
                yield from packets
                return
            if pos > start:
                break  # landed after the keyframe: try the one before
    raise VideoError(f"{container.name}: cannot seek to packet {start}")


def _decode_run(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    table: _FrameTable,
    run: _Run,
    keep: Callable[[list[av.VideoFrame]], None],
) -> None:
    """Feed one run's packets to the decoder, then drain it; only wanted frames are decoded in full."""
    codec = stream.codec_context
    for pos, packet in zip(itertools.count(run.start), _packets_from(container, stream, table, run.start)):
        # Frames nothing refers to are skipped unless wanted: decoding less is the speed-up.
        codec.skip_frame = "DEFAULT" if _timestamp(packet) in run.wanted else "NONREF"
        keep(_decode(codec, packet))
        if pos >= run.stop:
            break
    keep(_decode(codec, None))


def _decode(codec: av.codec.context.CodecContext, packet: av.Packet | None) -> list[av.VideoFrame]:
    """Decode one packet (None drains); a corrupt packet yields no frames, reported later if wanted."""
    try:
        return codec.decode(packet)
    except av.FFmpegError as error:
        log.debug("decode error: %s", error)
        return []


def _decode_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    table: _FrameTable,
    indices: list[int],
    size: int,
    path: object,
) -> dict[int, np.ndarray]:
    """Decode the frames at `indices` as (size, size, 3) RGB arrays; only they are converted."""
    present = len(table.pts)
    if max(indices) >= present:
        raise VideoError(
            f"{path}: frame {max(indices)} could not be decoded: the file holds {present} of its "
            f"{table.num_frames} declared frames (truncated?)"
        )
    wanted = {int(table.pts[i]): i for i in set(indices)}
    images: dict[int, np.ndarray] = {}
    reformatter = VideoReformatter()

    def keep(frames: list[av.VideoFrame]) -> None:
        for frame in frames:
            index = wanted.get(frame.pts if frame.pts is not None else frame.dts)
            if index is not None:
                images[index] = reformatter.reformat(
                    frame, size, size, "rgb24", interpolation="BILINEAR", threads=1
                ).to_ndarray()

    for run in _plan_runs(table, list(wanted.values())):
        _decode_run(container, stream, table, run, keep)
    missing = sorted(set(indices) - images.keys())
    if missing:
        raise VideoError(
            f"{path}: frame {missing[0]} could not be decoded (decoded {len(images)} of {len(wanted)} "
            f"wanted frames); the file is corrupt or truncated"
        )
    return images
