"""Small real videos for tests, encoded with PyAV; every frame shows its own index as a bit grid."""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GRID_COLS, GRID_ROWS = 4, 3  # 12 bits: indices up to 4095, one big black/white cell per bit
MAX_INDEX = 2 ** (GRID_COLS * GRID_ROWS) - 1


def index_image(index: int, width: int, height: int) -> np.ndarray:
    """An RGB (height, width, 3) uint8 image whose grid cells spell `index` in binary."""
    assert 0 <= index <= MAX_INDEX, f"index {index} outside 0..{MAX_INDEX}"
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for bit in range(GRID_COLS * GRID_ROWS):
        if index >> bit & 1:
            row, col = divmod(bit, GRID_COLS)
            rows = slice(row * height // GRID_ROWS, (row + 1) * height // GRID_ROWS)
            cols = slice(col * width // GRID_COLS, (col + 1) * width // GRID_COLS)
            image[rows, cols] = 255
    return image


def read_index(frame: np.ndarray | object) -> int:
    """Read back the index painted by `index_image` from a decoded (3, H, W) uint8 frame."""
    chw = np.asarray(frame)
    assert chw.ndim == 3 and chw.shape[0] == 3, f"expected a (3, H, W) frame, got {chw.shape}"
    grey = chw.astype(np.float32).mean(axis=0)
    height, width = grey.shape
    index = 0
    for bit in range(GRID_COLS * GRID_ROWS):
        row, col = divmod(bit, GRID_COLS)
        # Read only the middle half of each cell: edges blur under h264 and resizing.
        top, bottom = (4 * row + 1) * height // (4 * GRID_ROWS), (4 * row + 3) * height // (4 * GRID_ROWS)
        left, right = (4 * col + 1) * width // (4 * GRID_COLS), (4 * col + 3) * width // (4 * GRID_COLS)
        if grey[top:bottom, left:right].mean() > 127.5:
            index |= 1 << bit
    return index


def write_indexed_video(
    path: str | os.PathLike[str],
    num_frames: int,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    gop: int = 12,
    bframes: int = 2,
    vfr_pts: Sequence[float] | None = None,
    codec: str = "libx264",
    index_first: bool = False,
    open_gop: bool = False,
    hidden_lead: int = 0,
    grain: int = 0,
) -> Path:
    """Encode `num_frames` index frames; `vfr_pts` gives each frame's time in seconds (variable rate).

    `hidden_lead` frames get negative timestamps, so the mp4 edit list hides them: they are decoded
    as references but never shown, and the first shown frame paints index `hidden_lead`. `grain`
    adds seeded noise of that amplitude, so frames cost bytes as camera frames do (MPEG-2 at 160x120
    with grain 20: about 2.5 kB a frame, more than an MPEG-PS pack holds).
    """
    width, height = size
    with av.open(str(path), "w", options=_index_first_options(path) if index_first else {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            # Fixed GOPs and B-frames so tests know where keyframes are and frames get reordered.
            params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:open-gop={int(open_gop)}"
            stream.options = {"x264-params": params}
        else:  # MPEG-1/2: B-frames, open GOPs, and a bit rate that keeps the grain
            stream.codec_context.max_b_frames, stream.codec_context.bit_rate = bframes, 4_000_000
        if vfr_pts is not None:
            assert len(vfr_pts) == num_frames, f"{len(vfr_pts)} timestamps for {num_frames} frames"
            stream.codec_context.time_base = Fraction(1, 1000)
        noise = np.random.default_rng(0)
        for index in range(num_frames):
            image = index_image(index, width, height)
            if grain:
                image = np.clip(image + noise.integers(-grain, grain + 1, image.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if vfr_pts is not None:
                frame.pts, frame.time_base = round(vfr_pts[index] * 1000), Fraction(1, 1000)
            else:
                frame.pts, frame.time_base = index - hidden_lead, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def _index_first_options(path: str | os.PathLike[str]) -> dict[str, str]:
    """Muxer options that put the sample index before the data, as streaming files have it."""
    if str(path).endswith(".mkv"):
        return {"reserve_index_space": "1024", "cues_to_front": "1"}
    return {"movflags": "faststart"}


def write_stream_copy(
    source: str | os.PathLike[str], target: str | os.PathLike[str], first_packet: int = 0, zero_pts: int | None = None
) -> Path:
    """Copy `source`'s video packets from decode position `first_packet` on, unchanged, as `ffmpeg -c copy` cuts.

    Timestamps shift so that `zero_pts` (source time base; default: that packet's own pts) becomes 0: an mp4
    then gets an edit list hiding the packets before it, and starts mid-GOP when `first_packet` is no keyframe.
    """
    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        stream = reader.streams.video[0]
        copy = writer.add_stream_from_template(stream)
        for position, packet in enumerate(p for p in reader.demux(stream) if p.size):
            if position < first_packet:
                continue
            zero_pts = packet.pts if zero_pts is None else zero_pts
            packet.pts, packet.dts = packet.pts - zero_pts, None if packet.dts is None else packet.dts - zero_pts
            packet.stream = copy
            writer.mux(packet)
    return Path(target)


def edit_list(path: str | os.PathLike[str]) -> list[tuple[int, int]]:
    """The (segment duration, media time) entries of an mp4's first edit list ('elst' box), read from its bytes."""
    data = Path(path).read_bytes()
    at = data.find(b"elst")
    if at < 0:
        return []
    version, count = data[at + 4], int.from_bytes(data[at + 8 : at + 12], "big")
    width = 8 if version == 1 else 4
    entries, offset = [], at + 12
    for _ in range(count):
        duration = int.from_bytes(data[offset : offset + width], "big")
        media_time = int.from_bytes(data[offset + width : offset + 2 * width], "big", signed=True)
        entries.append((duration, media_time))
        offset += 2 * width + 4  # + media rate (16.16)
    return entries


def write_image(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Save an RGB (H, W, 3) uint8 array as a .png or .jpg file."""
    codec, pix_fmt = ("png", "rgb24") if str(path).endswith(".png") else ("mjpeg", "yuvj420p")
    with av.open(str(path), "w", format="image2", options={"update": "1"}) as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], pix_fmt
        container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return Path(path)


def write_audio_only(path: str | os.PathLike[str], seconds: float = 1.0, codec: str = "aac") -> Path:
    """Encode a silent mono audio track with no video stream."""
    rate = 44100
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        samples = np.zeros((1, 1024), dtype=np.float32)
        for start in range(0, int(seconds * rate), 1024):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def write_truncated_copy(source: str | os.PathLike[str], target: str | os.PathLike[str], fraction: float) -> Path:
    """Copy the first `fraction` of `source`'s bytes, as an interrupted download leaves a file."""
    data = Path(source).read_bytes()
    Path(target).write_bytes(data[: int(len(data) * fraction)])
    return Path(target)


def write_corrupted_copy(
    source: str | os.PathLike[str], target: str | os.PathLike[str], at: float, length: int = 100
) -> Path:
    """Copy `source` with `length` random bytes written over it at fraction `at` of its size."""
    data = bytearray(Path(source).read_bytes())
    start = int(len(data) * at)
    length = min(length, len(data) - start)
    data[start : start + length] = np.random.default_rng(1).integers(0, 256, length, dtype=np.uint8).tobytes()
    Path(target).write_bytes(bytes(data))
    return Path(target)


def write_random_bytes(path: str | os.PathLike[str], size: int = 4096, seed: int = 0) -> Path:
    """Write bytes that no demuxer accepts as a video."""
    Path(path).write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return Path(path)
