"""The full-size SeViLA on one GPU, random weights in the paper's dtypes: speed, memory and share of peak FLOP/s.

usage: python benchmarks/gpu.py [--tiny] [--device cuda] [--batches 1,8,32] [--frames 32] [--repeat 3] [...]

Builds SeViLA from the bundled blip2-flan-t5-xl config (no download; random weights, so only speed and memory mean
anything) with the paper profile's precision (fp16 ViT, bf16 T5, heads fp32 with fp16 autocast and a GradScaler
in training) and prints one table beside the paper's figures (3.28 s and 7.98 GB per question on an A6000 for
the 32 -> 4 chain with the original code): the forward chain from pixels at batches of 1, 8 and 32 questions of
32 frames, a stage-2 and a stage-3 training step at the official per-GPU batches, the evaluation sweep through
the feature cache, peak memory (torch.cuda.max_memory_allocated, weights included) and the share of the device's
dense bf16 peak reached (FLOPs counted by benchmarks/flops.py's counter on the same calls, attention included).
Each row: one warm-up call, then the best of `--repeat`. `--tiny` runs the same code on a tiny config (on CPU
by default): the test suite does, so that this script cannot rot. `make bench-gpu` runs it full size.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import transformers
from torch.nn.attention import SDPBackend, sdpa_kernel

from flops import UNCOUNTED, count
from gpu_workloads import (FRAMES, STAGE2_BATCH, STAGE3_BATCH, STAGE3_FRAMES, Batch, Sweep, forward_chain,
                           random_sevila, stage2_step, stage3_step)

# Dense (no sparsity) bf16 tensor-core peaks from the vendor data sheets, TFLOP/s; the first name found applies.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0),
                    ("A6000", 154.8))
PAPER_SECONDS, PAPER_GB = 3.28, 7.98  # per question, forward chain 32 -> 4, original code, one A6000 (paper)
GOAL_SECONDS, GOAL_GB = 0.3, 24.0  # issue 20: batched chain per question on one H100-class GPU; peak at batch 8


def peak_tflops(device_name: str) -> float | None:
    """The device's dense bf16 peak, or None for a device not in the table."""
    return next((peak for name, peak in PEAK_BF16_TFLOPS if name in device_name), None)


@dataclass
class Row:
    """One measured workload."""

    label: str
    questions: int  # per call
    seconds: float  # best call
    peak_gb: float | None  # None off CUDA
    flops: int  # per call

    def cells(self, peak: float | None) -> str:
        """The row of the table."""
        per_question = self.seconds / self.questions
        achieved = self.flops / self.seconds / 1e12
        share = f"{100 * achieved / peak:6.1f}%" if peak else f"{'-':>7}"
        memory = f"{self.peak_gb:8.2f}" if self.peak_gb is not None else f"{'-':>8}"
        return (f"{self.label:<44}{self.questions:>4}{self.seconds:9.3f}{per_question:9.3f}{memory}"
                f"{self.flops / self.questions / 1e12:9.3g}{achieved:9.1f}{share}")


class Timer:
    """Best-of-n wall time and peak memory of a call on one device."""

    def __init__(self, device: torch.device, repeat: int) -> None:
        self.device, self.repeat = device, repeat

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self, fn: Callable[[], object]) -> tuple[float, float | None]:
        """(best seconds, peak GB over the timed calls) after one warm-up call."""
        fn()
        self.sync()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        best = math.inf
        for _ in range(self.repeat):
            start = time.perf_counter()
            fn()
            self.sync()
            best = min(best, time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated(self.device) / 1e9 if self.device.type == "cuda" else None
        return best, peak


def flops_of(fn: Callable[[], object]) -> int:
    """FLOPs of one call, attention on the math backend (the fused kernels have no formula on CPU)."""
    with sdpa_kernel(SDPBackend.MATH):
        return count(fn)


def measure(args: argparse.Namespace, device: torch.device) -> list[Row]:
    """Every row of the table, in order."""
    model = random_sevila(device, args.tiny)
    model.chunk_size = args.chunk_size
    timer = Timer(device, args.repeat)
    rows = []

    def row(label: str, questions: int, fn: Callable[[], object]) -> None:
        seconds, peak = timer(fn)
        rows.append(Row(label, questions, seconds, peak, flops_of(fn)))
        print(f"  measured: {label} ({time.perf_counter() - START:.0f} s)", flush=True)

    n = args.frames
    for b in args.batches:
        row(f"forward chain, {b} x {n} frames -> 4", b, forward_chain(model, Batch.random(model, b, n)))
    b2, b3 = args.train_batches
    step2 = stage2_step(model, Batch.random(model, b2, n))
    row(f"stage-2 step (Answerer), {b2} x {n} frames", b2, step2)
    step3 = stage3_step(model, Batch.random(model, b3, STAGE3_FRAMES))
    row(f"stage-3 step (Localizer), {b3} x {STAGE3_FRAMES} frames", b3, step3)
    for name, step in (("stage 2", step2), ("stage 3", step3)):
        print(f"  {name}: the GradScaler skipped {step.skipped} of {step.steps} steps (fp16 gradient overflow)")
    sweep = Sweep(model, Batch.random(model, args.sweep_batch, n))
    try:
        row(f"eval sweep + feature cache, {args.sweep_batch} x {n}", args.sweep_batch, sweep)
    finally:
        sweep.close()
    return rows


def report(rows: Sequence[Row], device_name: str, tiny: bool) -> None:
    """The table, the paper's figures beside it, and the issue's goals."""
    peak = peak_tflops(device_name)
    print(f"\ndevice: {device_name}; dense bf16 peak {f'{peak:.0f} TFLOP/s' if peak else 'unknown'}"
          f"{'; TINY config (checks the script, not the model)' if tiny else ''}")
    print(f"{'workload':<44}{'B':>4}{'s/call':>9}{'s/quest':>9}{'peak GB':>8}{'TFLOP/q':>9}{'TFLOP/s':>9}"
          f"{'% peak':>7}")
    for row in rows:
        print(row.cells(peak))
    print(f"{'paper (original code, A6000), forward chain':<44}{1:>4}{PAPER_SECONDS:9.3f}{PAPER_SECONDS:9.3f}"
          f"{PAPER_GB:8.2f}")
    print(f"compute ops not counted: {', '.join(sorted(UNCOUNTED)) or 'none'}")
    if tiny or rows[0].peak_gb is None:
        print("the goals (issue 20) apply to the full-size model on one H100-class GPU")
        return
    chains = [r for r in rows if r.label.startswith("forward chain")]
    fastest = min(chains, key=lambda r: r.seconds / r.questions)
    print(f"forward chain: {fastest.seconds / fastest.questions:.3f} s/question at batch {fastest.questions} = "
          f"{PAPER_SECONDS / (fastest.seconds / fastest.questions):.1f}x the paper's {PAPER_SECONDS} s "
          f"(goal <= {GOAL_SECONDS} s: {'met' if fastest.seconds / fastest.questions <= GOAL_SECONDS else 'NOT met'})")
    at8 = next((r for r in chains if r.questions == 8), None)
    if at8 is not None and at8.peak_gb is not None:
        print(f"peak memory at batch 8: {at8.peak_gb:.2f} GB (goal < {GOAL_GB} GB: "
              f"{'met' if at8.peak_gb < GOAL_GB else 'NOT met'})")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny config, on CPU unless --device says otherwise")
    parser.add_argument("--device", help="default: cuda (cpu with --tiny)")
    parser.add_argument("--batches", default="1,8,32", help="questions per forward-chain call, comma-separated")
    parser.add_argument("--frames", type=int, default=FRAMES, help="candidate frames per question (paper: 32)")
    parser.add_argument("--train-batches", default=f"{STAGE2_BATCH},{STAGE3_BATCH}",
                        help="questions per stage-2 and per stage-3 step (default: the official per-GPU batches)")
    parser.add_argument("--sweep-batch", type=int, default=8, help="questions per evaluation-sweep call")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per row after one warm-up")
    parser.add_argument("--chunk-size", type=int, default=None, help="SeViLA.chunk_size (default: all at once)")
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",")]
    args.train_batches = [int(b) for b in args.train_batches.split(",")]
    if len(args.train_batches) != 2:
        parser.error(f"--train-batches {','.join(map(str, args.train_batches))}: expected two numbers, e.g. 8,16")
    return args


START = time.perf_counter()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    transformers.logging.set_verbosity_error()
    device = torch.device(args.device or ("cpu" if args.tiny else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py: no CUDA device here; --tiny runs the same code on CPU")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"{'tiny' if args.tiny else 'full-size'} SeViLA, random weights, fp16 ViT / bf16 T5 / fp16-autocast heads, "
          f"on {name}; chunk_size {args.chunk_size}; torch {torch.__version__}", flush=True)
    rows = measure(args, device)
    report(rows, name, args.tiny)
    print(f"benchmarks/gpu.py took {time.perf_counter() - START:.0f} s")


if __name__ == "__main__":
    main()
