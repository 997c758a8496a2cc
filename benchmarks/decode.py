"""Frame-sampling speed and memory: our PyAV sampler against decord (the original's reader) and torchcodec.

usage: python benchmarks/decode.py [VIDEO ...] [--frames 32] [--size 224] [--repeat 3] [--memory]

Without videos it generates a mix of h264 mp4 clips (5-120 s, 480p/720p, GOP 12/250) into a cache
folder, and from them the other containers users bring: MPEG-TS (stream copy), MPEG-PS (MPEG-2), an
mp4 cut at a keyframe with an edit list and one cut mid-GOP (what `ffmpeg -ss S -c copy` makes).
For each video it samples n frames (evaluation indices) with `sample_frames`, with decord on the
same indices when decord is installed (`pip install -e '.[bench]'`), with torchcodec on the same indices
and frame size when it is installed (`make bench-deps` builds it for CPU torch), with "seq": one sequential
decode of every frame (no seeking, timed once: the reference frames and frame count), and with
"floor": a plain decode (no conversion) from each needed keyframe up to each sampled frame (mp4
only: it trusts seeks). `--memory` samples 32 frames from a long 720p video in a subprocess and
reports its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from sevila.data.frame_table import scan
from sevila.data.video import sample_frames
from sevila.data.video_file import open_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from video_factory import write_stream_copy  # noqa: E402  (the cuts the tests decode)

try:
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # its FFmpeg warns on every frame of the cut files
except ImportError:  # optional extra `bench`
    decord = None

from torchcodec_reader import run_torchcodec, torchcodec, torchcodec_count  # noqa: E402

CLIPS = [  # name, seconds, (width, height), GOP
    ("480p_5s_gop12", 5, (854, 480), 12),
    ("480p_30s_gop250", 30, (854, 480), 250),
    ("480p_120s_gop12", 120, (854, 480), 12),
    ("720p_5s_gop250", 5, (1280, 720), 250),
    ("720p_30s_gop12", 30, (1280, 720), 12),
    ("720p_120s_gop250", 120, (1280, 720), 250),
]
FORMAT_BASE = "720p_30s_gop12"  # the clip the other containers are made from


def make_clip(
    path: Path,
    seconds: float,
    size: tuple[int, int],
    gop: int,
    fps: int = 30,
    preset: str = "veryfast",
    cheap: bool = False,
    codec: str = "libx264",
) -> None:
    """Encode a panning grainy texture with a moving square (`cheap`: still, grainless texture)."""
    width, height = size
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2), dtype=np.uint8)
    texture = np.kron(coarse, np.ones((16, 16), dtype=np.uint8))  # 2x the frame, blocky
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": preset, "crf": "23", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        else:  # MPEG-2 as DVDs and broadcasts carry it: 2 B-frames, open GOPs
            stream.codec_context.gop_size, stream.codec_context.max_b_frames = gop, 2
            stream.codec_context.bit_rate = 4_000_000
        for i in range(int(seconds * fps)):
            x, y = (0, 0) if cheap else ((3 * i) % width, i % height)
            luma = texture[y : y + height, x : x + width].copy()
            if not cheap:  # residuals to code, as camera noise gives
                luma ^= rng.integers(0, 4, luma.shape, dtype=np.uint8)
            side = height // 4
            top, left = (7 * i) % (height - side), (11 * i) % (width - side)
            luma[top : top + side, left : left + side] = 235
            chroma = np.full((height // 2, width), 128, dtype=np.uint8)
            chroma[: height // 4, : width // 2] = luma[::4, ::2] // 2 + 64
            frame = av.VideoFrame.from_ndarray(np.vstack([luma, chroma]), format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    tmp.replace(path)


def generated_clips(cache: Path) -> list[Path]:
    """The benchmark mix, generated once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, seconds, size, gop in CLIPS:
        path = cache / f"{name}.mp4"
        if not path.exists():
            start = time.perf_counter()
            make_clip(path, seconds, size, gop)
            print(f"generated {path} in {time.perf_counter() - start:.1f} s", flush=True)
        paths.append(path)
    return paths


def format_clips(cache: Path) -> list[Path]:
    """MPEG-TS, MPEG-PS and cut mp4 versions of the base clip, generated once into `cache`."""
    base = cache / f"{FORMAT_BASE}.mp4"
    with av.open(str(base)) as container:
        stream = container.streams.video[0]
        ticks = round(1 / (stream.average_rate * stream.time_base))  # time-base units per frame
    makers = {  # keyframes at every 12th frame: 300 is one, 305 is not
        f"{FORMAT_BASE}.ts": lambda path: write_stream_copy(base, path),
        f"{FORMAT_BASE}_editlist.mp4": lambda path: write_stream_copy(base, path, 300, zero_pts=306 * ticks),
        f"{FORMAT_BASE}_midgop.mp4": lambda path: write_stream_copy(base, path, 305),
        "480p_30s_gop12_mpeg2.mpg": lambda path: make_clip(path, 30, (854, 480), 12, codec="mpeg2video"),
    }
    paths = []
    for filename, make in makers.items():
        path = cache / filename
        if not path.exists():
            make(path)
        paths.append(path)
    return paths


def floor_decode(path: Path, indices: list[int]) -> None:
    """Decode, without converting, from each needed keyframe to each sampled frame (threads on)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.size]
        pts = sorted(ts for ts, _ in packets)
        keys = sorted(ts for ts, key in packets if key)
        frames, last_key = iter(()), None
        for target in sorted({pts[i] for i in indices}):
            key = max(k for k in keys if k <= target)
            if key != last_key:
                container.seek(key, stream=stream)
                frames, last_key = container.decode(stream), key
            next(frame for frame in frames if frame.pts >= target)


def sequential_frames(path: Path, indices: list[int], size: int) -> tuple[int, np.ndarray]:
    """Decode every frame in order, no seeking: the frame count and the frames at `indices`, converted as ours."""
    wanted, images, count = set(indices), {}, 0
    reformatter = VideoReformatter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for count, frame in enumerate(container.decode(stream), 1):
            if count - 1 in wanted:
                rgb = reformatter.reformat(frame, size, size, "rgb24", interpolation="BILINEAR", threads=1)
                images[count - 1] = rgb.to_ndarray()
    return count, np.stack([images.get(i, np.zeros((size, size, 3), np.uint8)) for i in indices])


def run_decord(path: Path, indices: list[int], size: int) -> np.ndarray:
    """decord as the original SeViLA calls it: resize while decoding, then get_batch."""
    reader = decord.VideoReader(str(path), width=size, height=size)
    return reader.get_batch(indices).asnumpy()


def interleaved_best(functions: dict[str, object], repeat: int) -> tuple[dict[str, float], dict[str, object]]:
    """Fastest of `repeat` rounds per function in seconds (rounds interleave them), and last results."""
    best = {name: float("inf") for name in functions}
    results = {}
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            results[name] = function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def mean_diff(frames: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute pixel difference of two (T, H, W, 3) stacks."""
    return float(np.abs(frames.astype(np.float32) - reference.astype(np.float32)).mean())


def bench_video(path: Path, frames: int, size: int, repeat: int, plain: bool = True) -> dict[str, object]:
    """Time ours, decord and the floor (`plain` mp4 only) on the same indices; compare the frames with seq's."""
    try:
        indices = sample_frames(path, frames, size=size).indices  # also warms the page cache
    except Exception as error:  # the table shows what the sampler cannot read
        return {"video": path.name, "error": f"{type(error).__name__}: {error}"}
    start = time.perf_counter()
    count, reference = sequential_frames(path, indices, size)
    row = {"video": path.name, "plain": plain, "seq_ms": 1000 * (time.perf_counter() - start), "count": count}
    functions = {"ours": lambda: sample_frames(path, frames, size=size)}
    if plain:  # the floor trusts seeks and timestamps, which MPEG-TS/PS and cut files break
        functions["floor"] = lambda: floor_decode(path, indices)
    if decord is not None:
        row["decord_count"] = len(decord.VideoReader(str(path)))
        functions["decord"] = lambda: run_decord(path, indices, size)
    if torchcodec is not None:
        try:  # a file torchcodec cannot open or seek fails here, not mid-timing
            row["torchcodec_count"] = torchcodec_count(path)
            run_torchcodec(path, indices, size)
            functions["torchcodec"] = lambda: run_torchcodec(path, indices, size)
        except RuntimeError as error:
            row["torchcodec_error"] = str(error).splitlines()[0]
    best, results = interleaved_best(functions, repeat)
    row.update({f"{name}_ms": 1000 * seconds for name, seconds in best.items()})
    with open_video(path) as container:
        row["ours_count"] = scan(container, path).num_frames
    row["ours_diff"] = mean_diff(results["ours"].frames.permute(0, 2, 3, 1).numpy(), reference)
    if decord is not None:
        row.update(speedup=best["decord"] / best["ours"], decord_diff=mean_diff(results["decord"], reference))
    if "torchcodec" in functions:
        row.update(tc_speedup=best["torchcodec"] / best["ours"], tc_diff=mean_diff(results["torchcodec"], reference))
    return row


def print_table(rows: list[dict[str, object]]) -> None:
    """One line per video, then the geometric-mean speed-ups over plain mp4 and over the other containers."""
    columns = [
        ("ours ms", "ours_ms", "{:.0f}"),
        ("decord ms", "decord_ms", "{:.0f}"),
        ("decord/ours", "speedup", "{:.2f}x"),
        ("torchcodec ms", "torchcodec_ms", "{:.0f}"),
        ("tc/ours", "tc_speedup", "{:.2f}x"),
        ("seq ms", "seq_ms", "{:.0f}"),
        ("floor ms", "floor_ms", "{:.0f}"),
        ("frames o/d/t/s", None, ""),  # frame counts: ours, decord's len(VideoReader), torchcodec's, seq's
        ("|ours-seq|", "ours_diff", "{:.2f}"),
        ("|decord-seq|", "decord_diff", "{:.2f}"),
        ("|tc-seq|", "tc_diff", "{:.2f}"),
    ]
    print(f"\n{'video':<34}" + "".join(f"{title:>15}" for title, _, _ in columns))
    for row in rows:
        if "error" in row:
            print(f"{row['video']:<34}ours fails: {row['error']}")
            continue
        counts = "/".join(str(row.get(key, "-")) for key in ("ours_count", "decord_count", "torchcodec_count", "count"))
        cells = [counts if key is None else fmt.format(row[key]) if key in row else "-" for _, key, fmt in columns]
        print(f"{row['video']:<34}" + "".join(f"{cell:>15}" for cell in cells))
    for row in rows:
        if "torchcodec_error" in row:
            print(f"torchcodec fails on {row['video']}: {row['torchcodec_error']}")
    for reader, key in (("decord", "speedup"), ("torchcodec", "tc_speedup")):
        for label, plain in (("plain mp4", True), ("other containers and cuts", False)):
            speedups = [row[key] for row in rows if key in row and row["plain"] == plain]
            if speedups:
                print(f"geometric mean {reader}/ours, {label}: {np.exp(np.mean(np.log(speedups))):.2f}x")
    if decord is None:
        print("decord is not installed (pip install decord): its columns are empty")
    if torchcodec is None:
        print("torchcodec is not installed (`make bench-deps` builds it for CPU torch): its columns are empty")


MEMORY_PROBE = """
import json, resource, sys, time
from pathlib import Path

def peak_mb():
    # VmHWM is this process's own peak; ru_maxrss can carry the parent's peak across fork and exec.
    status = Path("/proc/self/status")
    if status.exists():
        return next(int(l.split()[1]) for l in status.read_text().splitlines() if l.startswith("VmHWM")) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

reader, path = sys.argv[1], sys.argv[2]
import torch
if reader == "ours":
    from sevila.data.frame_table import scan
from sevila.data.video import sample_frames
from sevila.data.video_file import open_video
else:
    import decord
base = peak_mb()
start = time.perf_counter()
if reader == "ours":
    sample_frames(path, 32)
else:
    vr = decord.VideoReader(path, width=224, height=224)
    n = len(vr)
    vr.get_batch([(2 * i + 1) * n // 64 for i in range(32)]).asnumpy()
seconds = time.perf_counter() - start
print(json.dumps({"import_mb": base, "peak_mb": peak_mb(), "seconds": seconds}))
"""


def memory_report(cache: Path, minutes: float, fps: int) -> None:
    """Peak RSS of sampling 32 frames from a long 720p video, each reader in a fresh process."""
    path = cache / f"720p_{minutes:g}min_{fps}fps_gop250.mp4"
    if not path.exists():
        start = time.perf_counter()
        make_clip(path, minutes * 60, (1280, 720), 250, fps=fps, preset="ultrafast", cheap=True)
        print(f"generated {path} in {time.perf_counter() - start:.1f} s", flush=True)
    print(f"\nmemory: {path.name} ({path.stat().st_size / 2**20:.0f} MiB), 32 frames at 224 px")
    for reader in ["ours"] + (["decord"] if decord is not None else []):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, reader, str(path)], capture_output=True, text=True)
        if out.returncode:
            print(f"{reader:<8} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        stats = json.loads(out.stdout)
        peak, imports, seconds = stats["peak_mb"], stats["import_mb"], stats["seconds"]
        print(f"{reader:<8} peak RSS {peak:.0f} MB (after imports {imports:.0f} MB), {seconds:.2f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the speed table (and the memory report with --memory)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help="videos to time (default: a generated mix)")
    parser.add_argument("--frames", type=int, default=32, help="frames sampled per video")
    parser.add_argument("--size", type=int, default=224, help="output side in pixels")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per reader; the fastest counts")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sevila-bench-videos")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS on a long 720p video")
    parser.add_argument("--memory-minutes", type=float, default=60, help="length of the long video")
    parser.add_argument("--memory-fps", type=int, default=5, help="frame rate of the long video")
    args = parser.parse_args(argv)
    videos = [(path, True) for path in args.videos or generated_clips(args.cache)]
    videos += [] if args.videos else [(path, False) for path in format_clips(args.cache)]
    print_table([bench_video(path, args.frames, args.size, args.repeat, plain) for path, plain in videos])
    if args.memory:
        memory_report(args.cache, args.memory_minutes, args.memory_fps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
