"""Opening a video file and reading its packets; the one error every read problem becomes."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av

from sevila.errors import SevilaError

log = logging.getLogger(__name__)

Container = av.container.InputContainer
Stream = av.video.stream.VideoStream


class VideoError(SevilaError):
    """A video that cannot be opened or decoded; the message names the file and the reason."""


def open_video(path: str | os.PathLike[str]) -> Container:
    """Open a file that holds a video stream, or raise one VideoError saying why not."""
    path = Path(path)
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
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


@contextmanager
def read_errors(path: object) -> Iterator[None]:
    """Turn what PyAV and FFmpeg raise while reading a video into one VideoError naming the file."""
    try:
        yield
    except (av.FFmpegError, OSError) as error:  # av.error.PermissionError (FFmpeg's bare -1, EPERM) is both
        raise VideoError(f"{path}: decoding failed ({type(error).__name__}: {error}); is the file damaged?") from error


def average_fps(stream: Stream, num_frames: int) -> float:
    """The average frame rate (what decord's get_avg_fps reports), else frames / duration."""
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        return float(rate)
    return num_frames / float(stream.duration * stream.time_base) if stream.duration else 0.0


def timestamp(item: av.Packet | av.VideoFrame) -> int | None:
    """The presentation timestamp, else the decode timestamp (containers may give only one)."""
    return item.pts if item.pts is not None else item.dts


def packets(container: Container, stream: Stream) -> Iterator[av.Packet]:
    """The stream's packets in decode order; a read error (truncated file) ends the stream."""
    try:
        for packet in container.demux(stream):
            if packet.size and timestamp(packet) is not None:
                yield packet
    except av.FFmpegError as error:
        log.debug("%s: demuxing stopped early: %s", container.name, error)


def use_threads(stream: Stream, threads: int) -> Stream:
    """Let the stream's decoder use `threads` threads (frame and slice threading, as FFmpeg picks)."""
    stream.codec_context.thread_type, stream.codec_context.thread_count = "AUTO", threads
    return stream
