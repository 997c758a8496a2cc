"""Which packet holds which frame: one demux-only pass over a video, as decord indexes it at open.

Frame i is the i-th frame a decoder shows, in presentation order (decord's numbering, the original's
reader, sevila-method.md §7): the sorted timestamps of the packets are the frames. Not frames:
packets an edit list hides (decoded as references, never shown), and packets before the first
keyframe or shown before it (a clip cut mid-GOP by stream copy, a broadcast recorded from the middle
of a GOP), which lack their references: FFmpeg's decoders drop them and players never show them.
Where timestamps collide (MPEG-PS packing several small frames into one PES packet, so FFmpeg
guesses the missing timestamps), they cannot order frames: frame i is then the decoder's i-th output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from sevila.data.video_file import Container, Stream, VideoError, average_fps, packets, timestamp

log = logging.getLogger(__name__)

# Headers may overstate the frame count a little; missing more than this means a truncated file.
_COUNT_SLACK = 0.01


@dataclass
class FrameTable:
    """Frame index (presentation order) versus packet position (decode order)."""

    pts: np.ndarray  # (N,) timestamp of each frame present, ascending (in decoder order: 0..N-1)
    seconds: np.ndarray  # (N,) time of each frame from the first one
    decode_pos: np.ndarray  # (N,) decode position of each frame's packet
    packet_pts: np.ndarray  # (P,) timestamp of each packet, decode order
    packet_dts: np.ndarray  # (P,) decode timestamp of each packet (its timestamp where the container has none)
    sizes: np.ndarray  # (P,) bytes of each packet
    position: dict[int, int]  # timestamp -> decode position
    keyframes: np.ndarray  # decode positions where decoding can start, ascending
    num_frames: int  # the frame count; the declared one when the file lost its tail
    fps: float
    decoder_order: bool = False  # timestamps collide: frame i is the decoder's i-th output

    def locate(self, packet: av.Packet) -> int:
        """Decode position of a packet read again, or -1 when its timestamp or size is not the scan's."""
        pos = self.position.get(timestamp(packet), -1)
        return pos if pos >= 0 and self.sizes[pos] == packet.size else -1


def scan(container: Container, path: object) -> FrameTable:
    """Index every packet's timestamps, size and flags without decoding."""
    stream = container.streams.video[0]
    rows = [(timestamp(p), p.dts, p.size, p.is_keyframe, p.is_discard) for p in packets(container, stream)]
    if not rows:
        raise VideoError(f"{path}: the video stream holds no frames")
    stamps, dts, sizes, keys, hidden = (list(column) for column in zip(*rows))
    packet_pts = np.asarray(stamps, dtype=np.int64)
    keys, shown = _decodable(packet_pts, np.asarray(keys, dtype=bool), np.asarray(hidden, dtype=bool), path)
    decode_pos = shown[np.argsort(packet_pts[shown], kind="stable")]
    pts, fps = packet_pts[decode_pos], average_fps(stream, shown.size)
    seconds = (pts - pts[0]) * float(stream.time_base)
    position = {ts: pos for pos, ts in enumerate(stamps)}
    decoder_order = len(position) < len(stamps)
    if decoder_order:
        log.debug("%s: %d packets share a timestamp; frames go by decoder output", path, len(stamps) - len(position))
        pts, seconds = np.arange(shown.size), np.arange(shown.size) / (fps or 1.0)
    return FrameTable(
        pts=pts,
        seconds=seconds,
        decode_pos=decode_pos,
        packet_pts=packet_pts,
        packet_dts=np.asarray([ts if d is None else d for ts, d in zip(stamps, dts)], dtype=np.int64),
        sizes=np.asarray(sizes, dtype=np.int64),
        position=position,
        keyframes=np.flatnonzero(keys),
        num_frames=_frame_count(stream, len(stamps), shown.size, path),
        fps=fps,
        decoder_order=decoder_order,
    )


def _decodable(pts: np.ndarray, keys: np.ndarray, hidden: np.ndarray, path: object) -> tuple[np.ndarray, np.ndarray]:
    """The keyframe flags (the first packet's set if none is) and the decode positions of the frames shown."""
    keys = keys.copy()
    first = int(np.argmax(keys)) if keys.any() else 0  # no keyframe flags at all: trust the first packet
    keys[first] = True
    if first:
        log.debug("%s: %d packets before the first keyframe cannot be decoded; not counted", path, first)
    shown = np.flatnonzero(~hidden & (np.arange(len(pts)) >= first) & (pts >= pts[first]))
    if shown.size == 0:
        raise VideoError(f"{path}: the video stream holds no frames it can show")
    return keys, shown


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
