"""The packets of one GOP run, each checked: after a seek that provably landed, else from the file start.

FFmpeg's seek cannot be trusted in every container: MPEG-TS and MPEG-PS seek by decode timestamp
and may land past the keyframe, MPEG-PS can attach timestamps to the wrong packets after a seek,
and mp4 refuses (EPERM) a seek that finds no keyframe before the target. So every packet read after
a seek must be the scan's packet at its position (same timestamp and size). A seek is tried by
presentation timestamp, then by decode timestamp, at the run's keyframe and at the one before; when
none lands, or a packet stops matching mid-run, the worker reads that run from a forward pass over
the file instead: one pass for all its runs (they come in file order), decoding only inside them.
Once a few runs of a file have missed, more than landed, its workers stop trying to seek.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

import av

from sevila.data.frame_table import FrameTable
from sevila.data.video_file import Container, Stream, VideoError, open_video, packets, use_threads

log = logging.getLogger(__name__)

# Packets a seek may deliver before one matches the scan: the partial packet at the landing point.
_MAX_UNKNOWN = 8
# Runs whose seeks missed, more than landed, after which a file's seeks are not tried any more.
_GIVE_UP = 3


class Misaligned(Exception):
    """A packet read after a seek is not the scan's packet at its position."""


@dataclass
class SeekState:
    """What one file's decoding workers learned about seeking in it (threads share it; a lost count is harmless)."""

    dts_first: bool = False  # seeks land by decode timestamp (MPEG-TS, MPEG-PS)
    landed: int = 0  # runs decoded after a seek
    missed: int = 0  # runs no seek landed on, or whose packets stopped matching

    @property
    def worth_seeking(self) -> bool:
        """Seeks landed at least as often as they missed, or too few were tried to tell."""
        return self.missed < _GIVE_UP or self.landed >= self.missed


class RunPackets(NamedTuple):
    """The stream to decode a run with, its packets from the run's start on, and whether a seek found them."""

    stream: Stream
    packets: Iterator[av.Packet]
    seeked: bool


class PacketSource:
    """One worker's packets by decode position: a checked seek per run, else one forward pass."""

    def __init__(self, path: object, container: Container, table: FrameTable, state: SeekState, threads: int):
        self.path, self.container, self.table, self.state, self.threads = path, container, table, state, threads
        self.stream = use_threads(container.streams.video[0], threads)
        self._reader: Container | None = None  # the forward pass: its own container, packets and position
        self._reader_packets: Iterator[av.Packet] = iter(())
        self._reader_pos = 0

    def run(self, start: int) -> RunPackets:
        """The packets from decode position `start` (a keyframe) on: after a seek if one lands."""
        if self.state.worth_seeking:
            landed = self._seek(start)
            if landed is not None:
                return RunPackets(self.stream, landed, seeked=True)
            self.state.missed += 1
            log.debug("%s: no seek landed on packet %d; reading forward from the file start", self.path, start)
        return self.forward(start)

    def forward(self, start: int) -> RunPackets:
        """The packets from `start` on, read forward from the file start (reopened only to go back)."""
        if self._reader is None or self._reader_pos > start:
            self.close()
            self._reader = open_video(self.path)
            self._reader_packets = packets(self._reader, use_threads(self._reader.streams.video[0], self.threads))
            self._reader_pos = 0
        while self._reader_pos < start and next(self._reader_packets, None) is not None:
            self._reader_pos += 1  # demux only: nothing before the run is decoded
        stream = self._reader.streams.video[0]
        stream.codec_context.flush_buffers()  # the last run drained this decoder
        return RunPackets(stream, self._forward_checked(start), seeked=False)

    def close(self) -> None:
        """Close the forward pass's container, if one was opened."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _seek(self, start: int) -> Iterator[av.Packet] | None:
        """Checked packets from `start` on after a seek that landed on or before it; None if none did."""
        for target, by_dts in self._targets(start):
            try:
                self.container.seek(target, stream=self.stream)
            except (av.FFmpegError, OSError) as error:  # mp4 before its first keyframe: EPERM
                log.debug("%s: seek to %d failed: %s", self.path, target, error)
                continue
            after = packets(self.container, self.stream)
            first = _read_up_to(self.table, after, start)
            if first is not None:
                self.state.dts_first = by_dts
                return _checked(self.table, chain([first], after), start)
        return None

    def _targets(self, start: int) -> list[tuple[int, bool]]:
        """(timestamp, is decode timestamp) to seek to: the run's keyframe, then the one before."""
        keyframes = self.table.keyframes
        targets: list[tuple[int, bool]] = []
        for pos in [start, *keyframes[keyframes < start][-1:].tolist()]:
            pair = [(int(self.table.packet_pts[pos]), False), (int(self.table.packet_dts[pos]), True)]
            for target in pair[::-1] if self.state.dts_first else pair:
                if target[0] not in [t for t, _ in targets]:
                    targets.append(target)
        return targets

    def _forward_checked(self, start: int) -> Iterator[av.Packet]:
        """The forward pass's packets from `start` on, counted and checked."""
        try:
            yield from _checked(self.table, self._counted(), start)
        except Misaligned as error:
            raise VideoError(f"{self.path}: {error} on a second read from the start; did the file change?") from error

    def _counted(self) -> Iterator[av.Packet]:
        for packet in self._reader_packets:
            self._reader_pos += 1
            yield packet


def _read_up_to(table: FrameTable, after: Iterator[av.Packet], start: int) -> av.Packet | None:
    """Demux on to the packet at `start`; None if the seek landed past it or off the scan's packets."""
    expected = -1
    for count, packet in enumerate(after):
        pos = table.locate(packet)
        if expected < 0 and pos < 0 and count < _MAX_UNKNOWN:
            continue
        if pos < 0 or pos > start or (expected >= 0 and pos != expected):
            return None
        if pos == start:
            return packet
        expected = pos + 1
    return None


def _checked(table: FrameTable, run_packets: Iterator[av.Packet], start: int) -> Iterator[av.Packet]:
    """The packets from decode position `start` on, each checked to be the scan's packet there."""
    for pos, packet in enumerate(run_packets, start):
        if table.locate(packet) != pos:
            raise Misaligned(f"packet {pos} is not the one the first read found there")
        yield packet
