"""Frame-sampling speed and memory: our PyAV sampler against decord (the original's reader).

usage: python benchmarks/decode.py [VIDEO ...] [--frames 32] [--size 224] [--repeat 3] [--memory]

Without videos it generates a mix of h264 clips (5-120 s, 480p/720p, GOP 12/250) into a cache
folder. For each video it samples n frames (evaluation indices) with `sample_frames`, with decord
on the same indices when decord is installed (`pip install -e '.[bench]'`), and with "floor": a
plain decode (no conversion) from each needed keyframe up to each sampled frame. `--memory`
samples 32 frames from a long 720p video in a subprocess and reports its peak RSS.
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

from sevila.data.video import sample_frames, segment_indices

try:
    import decord
except ImportError:  # optional extra `bench`
    decord = None

CLIPS = [  # name, seconds, (width, height), GOP
    ("480p_5s_gop12", 5, (854, 480), 12),
    ("480p_30s_gop250", 30, (854, 480), 250),
    ("480p_120s_gop12", 120, (854, 480), 12),
    ("720p_5s_gop250", 5, (1280, 720), 250),
    ("720p_30s_gop12", 30, (1280, 720), 12),
    ("720p_120s_gop250", 120, (1280, 720), 250),
]


def make_clip(
    path: Path,
    seconds: float,
    size: tuple[int, int],
    gop: int,
    fps: int = 30,
    preset: str = "veryfast",
    cheap: bool = False,
) -> None:
    """Encode a panning grainy texture with a moving square (`cheap`: still, grainless texture)."""
    width, height = size
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2), dtype=np.uint8)
    texture = np.kron(coarse, np.ones((16, 16), dtype=np.uint8))  # 2x the frame, blocky
    tmp = path.with_name(path.name + ".tmp.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": "23", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
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


def bench_video(path: Path, frames: int, size: int, repeat: int) -> dict[str, object]:
    """Time ours, decord and the floor on the same indices; compare our frames with decord's."""
    indices = sample_frames(path, frames, size=size).indices  # also warms the page cache
    functions = {
        "ours": lambda: sample_frames(path, frames, size=size),
        "floor": lambda: floor_decode(path, indices),
    }
    if decord is not None:
        count = len(decord.VideoReader(str(path)))
        assert indices == segment_indices(0, count, frames), f"{path}: decord counts {count} frames"
        functions["decord"] = lambda: run_decord(path, indices, size)
    best, results = interleaved_best(functions, repeat)
    row = {"video": path.name, "ours_ms": 1000 * best["ours"], "floor_ms": 1000 * best["floor"]}
    if decord is not None:
        ours = results["ours"].frames.permute(0, 2, 3, 1).numpy().astype(np.float32)
        mad = float(np.abs(ours - results["decord"]).mean())
        row.update(decord_ms=1000 * best["decord"], speedup=best["decord"] / best["ours"], mad=mad)
    return row


def print_table(rows: list[dict[str, object]]) -> None:
    """One line per video, then the geometric-mean speed-up."""
    print(f"\n{'video':<28}{'ours ms':>9}{'decord ms':>11}{'decord/ours':>13}{'floor ms':>10}{'|diff|':>8}")
    for row in rows:
        decord_ms = f"{row['decord_ms']:.0f}" if "decord_ms" in row else "-"
        speedup = f"{row['speedup']:.2f}x" if "speedup" in row else "-"
        mad = f"{row['mad']:.2f}" if "mad" in row else "-"
        print(f"{row['video']:<28}{row['ours_ms']:>9.0f}{decord_ms:>11}{speedup:>13}{row['floor_ms']:>10.0f}{mad:>8}")
    speedups = [row["speedup"] for row in rows if "speedup" in row]
    if speedups:
        print(f"geometric mean decord/ours: {np.exp(np.mean(np.log(speedups))):.2f}x")
    else:
        print("decord is not installed (pip install decord): only our times and the floor are shown")


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
    from sevila.data.video import sample_frames
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
    videos = args.videos or generated_clips(args.cache)
    print_table([bench_video(path, args.frames, args.size, args.repeat) for path in videos])
    if args.memory:
        memory_report(args.cache, args.memory_minutes, args.memory_fps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
