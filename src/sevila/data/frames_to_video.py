"""Encode a folder of extracted frames (e.g. TVQA's 3 fps jpgs) into one video file with PyAV.

Frames are ordered by the numbers in their names (frame_2 before frame_10). All frames must share
one size: a differing frame is an error naming it, since mixed sizes mean mixed-up folders rather
than something to resize away. An odd width or height loses its last pixel column or row, because
yuv420p (what every h264 reader decodes) needs even sides. The video is written to a temporary
file beside the output and renamed over it, so an interrupted run never leaves a half file.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sevila.cli_parser import OneLineParser
from sevila.errors import SevilaError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def frames_to_video(
    frames_dir: str | os.PathLike[str], fps: float, output: str | os.PathLike[str], codec: str = "libx264"
) -> Path:
    """Encode the images in `frames_dir`, in numeric name order, as a `fps` video at `output`."""
    if not fps > 0:
        raise SevilaError(f"frames-to-video: --fps is {fps}; expected a positive frame rate such as 3")
    images = frame_files(Path(frames_dir))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=output.suffix, dir=output.parent)
    os.close(handle)
    try:
        _encode(images, Fraction(fps).limit_denominator(1001), tmp, codec)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("%s: %d frames at %g fps from %s", output, len(images), fps, frames_dir)
    return output


def frame_files(frames_dir: Path) -> list[Path]:
    """The .jpg/.png files of a folder, sorted by the numbers in their names."""
    if not frames_dir.is_dir():
        raise SevilaError(f"{frames_dir}: not a folder of frames")
    images = [path for path in frames_dir.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise SevilaError(f"{frames_dir}: no frames found (expected .jpg or .png files)")
    return sorted(images, key=_natural_key)


def _natural_key(path: Path) -> list[int | str]:
    # re.split with a group alternates text and digits, so keys compare position by position.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _read_rgb(path: Path) -> np.ndarray:
    """One image as an RGB (H, W, 3) uint8 array; bytes are passed in so '%' in names is harmless."""
    try:
        with av.open(io.BytesIO(path.read_bytes())) as container:
            return next(container.decode(video=0)).to_ndarray(format="rgb24")
    except (av.FFmpegError, OSError, StopIteration, IndexError) as error:
        raise SevilaError(f"{path}: unreadable image ({error or 'no picture in it'})") from error


def _same_size_frames(images: list[Path], first: np.ndarray) -> Iterator[np.ndarray]:
    """The images as RGB arrays (the first already read), each checked to share the first one's size."""
    yield first
    for image in images[1:]:
        rgb = _read_rgb(image)
        if rgb.shape != first.shape:
            raise SevilaError(
                f"{image}: frame is {rgb.shape[1]}x{rgb.shape[0]} but {images[0].name} is "
                f"{first.shape[1]}x{first.shape[0]}; all frames of a video must share one size"
            )
        yield rgb


def _encode(images: list[Path], rate: Fraction, path: str, codec: str) -> None:
    """Encode the images at `rate` frames per second into `path` (format from its suffix)."""
    first = _read_rgb(images[0])
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2  # yuv420p needs even sides
    if not (height and width):
        raise SevilaError(f"{images[0]}: {first.shape[1]}x{first.shape[0]} is too small for a video")
    try:
        with av.open(path, "w") as container:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for index, rgb in enumerate(_same_size_frames(images, first)):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:height, :width]), format="rgb24")
                frame.pts, frame.time_base = index, 1 / rate
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except (av.FFmpegError, ValueError) as error:  # unknown codec, encoder refusing the size
        raise SevilaError(f"cannot encode {len(images)} frames with codec {codec!r}: {error}") from error


def main(argv: list[str]) -> int:
    """`sevila prepare frames-to-video --frames DIR --fps 3 --output OUT.mp4`."""
    parser = OneLineParser(prog="sevila prepare frames-to-video", description="Encode a folder of frames as a video.")
    parser.add_argument("--frames", required=True, type=Path, help="folder of .jpg/.png frames, numbered in order")
    parser.add_argument("--fps", required=True, type=float, help="rate the frames were extracted at (TVQA: 3)")
    parser.add_argument("--output", required=True, type=Path, help="video to write, e.g. OUT.mp4")
    parser.add_argument("--codec", default="libx264", help="PyAV/FFmpeg encoder name (default: libx264)")
    args = parser.parse_args(argv)
    frames_to_video(args.frames, args.fps, args.output, args.codec)
    return 0
