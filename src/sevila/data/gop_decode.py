"""GOP-aware PyAV decoding of chosen frames: one checked seek per GOP run, threaded decoders.

Frames are numbered by the frame table (frame_table.py). Each wanted frame is decoded from the
keyframe before it, frames nothing refers to are skipped unless wanted, only wanted frames are
converted, and the runs are spread over threads that each own a decoder: decoding less, on every
core, is what beats decord. Where seeks cannot be trusted (packet_source.py) the same runs are
decoded from one forward pass over the file; where timestamps cannot order frames, every frame is
decoded in one pass and counted as the decoder outputs it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import chain

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from sevila.data.frame_table import FrameTable
from sevila.data.packet_source import Misaligned, PacketSource, SeekState
from sevila.data.video_file import Container, VideoError, open_video, packets, timestamp, use_threads

log = logging.getLogger(__name__)


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


def _decode(codec: av.codec.context.CodecContext, packet: av.Packet | None) -> list[av.VideoFrame]:
    """Decode one packet (None drains); a corrupt packet yields no frames, reported later if wanted."""
    try:
        return codec.decode(packet)
    except av.FFmpegError as error:
        log.debug("decode error: %s", error)
        return []


def _decode_run(source: PacketSource, run: _Run) -> Iterator[av.VideoFrame]:
    """The run's wanted frames: from a checked seek, or from the forward pass if a packet stops matching."""
    found = source.run(run.start)
    try:
        yield from _decode_packets(found.stream.codec_context, found.packets, run)
    except Misaligned as error:
        # The frames yielded so far came from checked packets; decode the run again, read forward.
        source.state.missed += 1
        log.debug("%s: %s after a seek; reading forward from the file start", source.path, error)
        again = source.forward(run.start)
        yield from _decode_packets(again.stream.codec_context, again.packets, run)
    else:
        source.state.landed += found.seeked


def _decode_packets(
    codec: av.codec.context.CodecContext, run_packets: Iterator[av.Packet], run: _Run
) -> Iterator[av.VideoFrame]:
    """Feed one run's packets to the decoder, drain it, and yield the wanted frames decoded intact."""
    for _, packet in zip(range(run.start, run.stop + 1), run_packets):  # range first: no packet read past stop
        # Frames nothing refers to need no decoding unless wanted: decoding less is the speed-up.
        codec.skip_frame = "DEFAULT" if timestamp(packet) in run.wanted else "NONREF"
        yield from _intact(_decode(codec, packet), run.wanted)
    yield from _intact(_decode(codec, None), run.wanted)


def _intact(frames: list[av.VideoFrame], wanted: set[int]) -> Iterator[av.VideoFrame]:
    # A frame the decoder patched over missing data (error concealment) counts as not decoded.
    return (frame for frame in frames if timestamp(frame) in wanted and not frame.is_corrupt)


def _next_run(runs: deque[_Run]) -> _Run | None:
    try:
        return runs.popleft()  # atomic: workers share the queue, so a free core takes the next run
    except IndexError:
        return None


def _decode_worker(
    path: object,
    table: FrameTable,
    runs: deque[_Run],
    size: int,
    state: SeekState,
    decoder_threads: int,
    container: Container | None,
) -> dict[int, np.ndarray]:
    """Decode runs off the shared queue with a container and decoder of its own; frames by timestamp."""
    owned = container is None
    container = open_video(path) if container is None else container
    source = PacketSource(path, container, table, state, decoder_threads)
    reformatter = VideoReformatter()
    images = {}
    try:
        while (run := _next_run(runs)) is not None:
            for frame in _decode_run(source, run):
                images[timestamp(frame)] = _rgb(reformatter, frame, size)
    finally:
        source.close()
        if owned:
            container.close()
    return images


def _decode_runs(
    path: object, container: Container, table: FrameTable, wanted: set[int], size: int, threads: int
) -> dict[int, np.ndarray]:
    """The wanted frames decoded GOP run by GOP run, the runs spread over `threads` decoders."""
    runs = deque(_plan_runs(table, sorted(wanted)))
    workers = min(len(runs), threads)
    work = partial(_decode_worker, path, table, runs, size, SeekState(), max(1, threads // workers))
    by_time: dict[int, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, container if i == 0 else None) for i in range(workers)]:
            by_time.update(future.result())
    return {i: by_time[int(table.pts[i])] for i in wanted if int(table.pts[i]) in by_time}


def _rgb(reformatter: VideoReformatter, frame: av.VideoFrame, size: int) -> np.ndarray:
    """The frame as (size, size, 3) RGB, scaled with swscale bilinear: what decord's "scale=W:H" filter used."""
    return reformatter.reformat(frame, size, size, "rgb24", interpolation="BILINEAR", threads=1).to_ndarray()


def _decode_in_order(path: object, wanted: set[int], size: int, threads: int) -> dict[int, np.ndarray]:
    """Frames by their place in the decoder's output, decoding everything from the start up to the last wanted."""
    images, reformatter = {}, VideoReformatter()
    with open_video(path) as container:
        stream = use_threads(container.streams.video[0], threads)
        # A decode error is not skipped here (it raises): a lost frame would renumber every later one.
        decoded = (stream.codec_context.decode(packet) for packet in chain(packets(container, stream), [None]))
        for index, frame in zip(range(max(wanted) + 1), chain.from_iterable(decoded)):
            if index in wanted and not frame.is_corrupt:
                images[index] = _rgb(reformatter, frame, size)
    return images


def check_present(path: object, table: FrameTable, indices: list[int]) -> None:
    """Every wanted frame is in the file: one that lost its tail fails here, before anything is decoded."""
    if max(indices) >= len(table.pts):
        raise VideoError(
            f"{path}: frame {max(indices)} could not be decoded: the file holds {len(table.pts)} of its "
            f"{table.num_frames} declared frames (truncated?)"
        )


def decode_frames(
    path: object, container: Container, table: FrameTable, indices: list[int], size: int, threads: int
) -> dict[int, np.ndarray]:
    """The frames at `indices` as (size, size, 3) RGB arrays; GOP runs spread over `threads` decoders."""
    check_present(path, table, indices)
    if table.decoder_order:
        images = _decode_in_order(path, set(indices), size, threads)
    else:
        images = _decode_runs(path, container, table, set(indices), size, threads)
    missing = sorted(set(indices) - images.keys())
    if missing:
        raise VideoError(
            f"{path}: frame {missing[0]} could not be decoded (decoded {len(images)} of {len(set(indices))} "
            f"wanted frames); the file is corrupt or truncated"
        )
    return images
