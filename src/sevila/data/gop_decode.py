"""GOP-aware PyAV decoding of chosen frames: the frame table, one seek per GOP run, threaded decoders.

Frame i is the i-th shown frame in presentation order, numbered as decord (the original's reader,
sevila-method.md §7) numbers them: one demux-only pass reads every packet's timestamp and flags,
and the sorted timestamps are the frames (packets an edit list hides are decoded as references but
not counted). Each wanted frame is decoded from the keyframe before it, frames nothing refers to
are skipped unless wanted, only wanted frames are converted, and the runs are spread over threads
that each own a decoder: decoding less, on every core, is what beats decord.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from sevila.errors import SevilaError

log = logging.getLogger(__name__)

# Headers may overstate the frame count a little; missing more than this means a truncated file.
_COUNT_SLACK = 0.01

Container = av.container.InputContainer
Stream = av.video.stream.VideoStream


class VideoError(SevilaError):
    """A video that cannot be opened or decoded; the message names the file and the reason."""


def open_video(path: str | os.PathLike[str]) -> Container:
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


def average_fps(stream: Stream, num_frames: int) -> float:
    """The average frame rate (what decord's get_avg_fps reports), else frames / duration."""
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        return float(rate)
    return num_frames / float(stream.duration * stream.time_base) if stream.duration else 0.0


def _timestamp(item: av.Packet | av.VideoFrame) -> int | None:
    return item.pts if item.pts is not None else item.dts


def packets(container: Container, stream: Stream) -> Iterator[av.Packet]:
    """The stream's packets in decode order; a read error (truncated file) ends the stream."""
    try:
        for packet in container.demux(stream):
            if packet.size and _timestamp(packet) is not None:
                yield packet
    except av.FFmpegError as error:
        log.debug("%s: demuxing stopped early: %s", container.name, error)


@dataclass
class FrameTable:
    """Frame index (presentation order) versus packet position (decode order)."""

    pts: np.ndarray  # (N,) timestamp of each frame present, ascending
    seconds: np.ndarray  # (N,) time of each frame from the first one
    decode_pos: np.ndarray  # (N,) decode position of each frame's packet
    packet_pts: np.ndarray  # (P,) timestamp of each packet, decode order
    position: dict[int, int]  # timestamp -> decode position
    keyframes: np.ndarray  # decode positions where decoding can start, ascending
    num_frames: int  # the frame count; the declared one when the file lost its tail
    fps: float


def scan(container: Container, path: object) -> FrameTable:
    """Index every packet's timestamp and flags without decoding (what decord does at open)."""
    stream = container.streams.video[0]
    rows = [(_timestamp(p), p.is_keyframe, p.is_discard) for p in packets(container, stream)]
    stamps, keys, hidden = (list(column) for column in zip(*rows)) if rows else ([], [], [])
    position = {ts: pos for pos, ts in enumerate(stamps)}
    if len(position) < len(stamps):
        raise VideoError(f"{path}: {len(stamps) - len(position)} packets share a timestamp; cannot order frames")
    shown = np.flatnonzero(~np.asarray(hidden, dtype=bool))
    if shown.size == 0:
        raise VideoError(f"{path}: the video stream holds no frames")
    packet_pts = np.asarray(stamps, dtype=np.int64)
    decode_pos = shown[np.argsort(packet_pts[shown], kind="stable")]
    keys[0] = True  # decoding can always start at the first packet
    return FrameTable(
        pts=packet_pts[decode_pos],
        seconds=(packet_pts[decode_pos] - packet_pts[decode_pos[0]]) * float(stream.time_base),
        decode_pos=decode_pos,
        packet_pts=packet_pts,
        position=position,
        keyframes=np.flatnonzero(keys),
        num_frames=_frame_count(stream, len(stamps), shown.size, path),
        fps=average_fps(stream, shown.size),
    )


def _frame_count(stream: Stream, present: int, shown: int, path: object) -> int:
    """The frames shown, or the declared count when the file lost its tail (sampling then fails)."""
    entries = stream.index_entries
    last = entries[len(entries) - 1] if len(entries) else None
    past_end = last is not None and last.pos + last.size > Path(str(path)).stat().st_size
    if past_end and stream.frames <= present:
        raise VideoError(f"{path}: truncated file: its index points past its end ({present} packets present)")
    if past_end or stream.frames - present > max(1, _COUNT_SLACK * stream.frames):
        return stream.frames
    if stream.frames and stream.frames != present:
        log.debug("%s: header declares %d frames, %d packets present; counting", path, stream.frames, present)
    return shown


@dataclass
class _Run:
    """One seek: decode packets start..stop (decode order), keep frames whose timestamps are wanted."""

    start: int
    stop: int
    wanted: set[int]


def _plan_runs(table: FrameTable, frames: list[int]) -> list[_Run]:
    """Group wanted frames by the keyframe they decode from; adjacent groups share one seek."""
    runs = []
    for frame in frames:
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


def _packets_from(container: Container, stream: Stream, table: FrameTable, start: int) -> Iterator[av.Packet]:
    """Packets from decode position `start` on; seeks there, or to an earlier keyframe if it overshoots."""
    for seek_pos in [start, *table.keyframes[table.keyframes < start][::-1].tolist()]:
        container.seek(int(table.packet_pts[seek_pos]), stream=stream)
        after_seek = packets(container, stream)
        for packet in after_seek:
            pos = table.position.get(_timestamp(packet), -1)
            if pos == start:
                yield packet
                yield from after_seek
                return
            if pos > start:
                break  # landed after the keyframe: try the one before
    raise VideoError(f"{container.name}: cannot seek to packet {start}")


def _decode(codec: av.codec.context.CodecContext, packet: av.Packet | None) -> list[av.VideoFrame]:
    """Decode one packet (None drains); a corrupt packet yields no frames, reported later if wanted."""
    try:
        return codec.decode(packet)
    except av.FFmpegError as error:
        log.debug("decode error: %s", error)
        return []


def _decode_run(container: Container, stream: Stream, table: FrameTable, run: _Run) -> Iterator[av.VideoFrame]:
    """Feed one run's packets to the decoder, drain it, and yield the wanted frames decoded intact."""
    codec = stream.codec_context
    for _, packet in zip(range(run.start, run.stop + 1), _packets_from(container, stream, table, run.start)):
        # Frames nothing refers to need no decoding unless wanted: decoding less is the speed-up.
        codec.skip_frame = "DEFAULT" if _timestamp(packet) in run.wanted else "NONREF"
        yield from _intact(_decode(codec, packet), run.wanted)
    yield from _intact(_decode(codec, None), run.wanted)


def _intact(frames: list[av.VideoFrame], wanted: set[int]) -> Iterator[av.VideoFrame]:
    # A frame the decoder patched over missing data (error concealment) counts as not decoded.
    return (frame for frame in frames if _timestamp(frame) in wanted and not frame.is_corrupt)


def _next_run(runs: deque[_Run]) -> _Run | None:
    try:
        return runs.popleft()  # atomic: workers share the queue, so a free core takes the next run
    except IndexError:
        return None


def _decode_worker(
    path: object, table: FrameTable, runs: deque[_Run], size: int, decoder_threads: int, container: Container | None
) -> dict[int, np.ndarray]:
    """Decode runs off the shared queue with a container and decoder of its own; frames by timestamp."""
    owned = container is None
    container = open_video(path) if container is None else container
    stream = container.streams.video[0]
    stream.codec_context.thread_type, stream.codec_context.thread_count = "AUTO", decoder_threads
    reformatter = VideoReformatter()
    images = {}
    try:
        while (run := _next_run(runs)) is not None:
            for frame in _decode_run(container, stream, table, run):
                # swscale bilinear: what decord's "scale=W:H" filter used with the FFmpeg 4 it ships.
                rgb = reformatter.reformat(frame, size, size, "rgb24", interpolation="BILINEAR", threads=1)
                images[_timestamp(frame)] = rgb.to_ndarray()
    finally:
        if owned:
            container.close()
    return images


def decode_frames(
    path: object, container: Container, table: FrameTable, indices: list[int], size: int, threads: int
) -> dict[int, np.ndarray]:
    """The frames at `indices` as (size, size, 3) RGB arrays; GOP runs spread over `threads` decoders."""
    if max(indices) >= len(table.pts):
        raise VideoError(
            f"{path}: frame {max(indices)} could not be decoded: the file holds {len(table.pts)} of its "
            f"{table.num_frames} declared frames (truncated?)"
        )
    runs = deque(_plan_runs(table, sorted(set(indices))))
    workers = min(len(runs), threads)
    work = partial(_decode_worker, path, table, runs, size, max(1, threads // workers))
    by_time: dict[int, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, container if i == 0 else None) for i in range(workers)]:
            by_time.update(future.result())
    images = {i: by_time[int(table.pts[i])] for i in set(indices) if int(table.pts[i]) in by_time}
    missing = sorted(set(indices) - images.keys())
    if missing:
        raise VideoError(
            f"{path}: frame {missing[0]} could not be decoded (decoded {len(images)} of {len(set(indices))} "
            f"wanted frames); the file is corrupt or truncated"
        )
    return images
