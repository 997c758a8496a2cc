"""benchmarks/gpu.py end to end on the tiny config on CPU (the same code `make bench-gpu` runs full size)."""

from __future__ import annotations

import importlib
import re
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("gpu"), importlib.import_module("gpu_workloads")


def test_peak_table_matches_device_names(bench):
    gpu, _ = bench
    assert gpu.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert gpu.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu.peak_tflops("NVIDIA H200") == 989.0
    assert gpu.peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert gpu.peak_tflops("NVIDIA RTX A6000") == 154.8
    assert gpu.peak_tflops("Tesla T4") is None


def test_tiny_run_prints_every_row_with_counted_flops(bench, capsys):
    gpu, _ = bench
    before = set(Path(tempfile.gettempdir()).glob("sevila_gpu_bench_*"))
    gpu.main(["--tiny", "--batches", "1,2", "--frames", "8", "--train-batches", "2,2", "--sweep-batch", "1",
              "--repeat", "1"])
    out = capsys.readouterr().out
    labels = ["forward chain, 1 x 8 frames -> 4", "forward chain, 2 x 8 frames -> 4",
              "stage-2 step (Answerer), 2 x 8 frames", "stage-3 step (Localizer), 2 x 4 frames",
              "eval sweep + feature cache, 1 x 8"]
    for label in labels:
        line = next(line for line in out.splitlines() if line.startswith(label) and "measured" not in line)
        questions, per_call, per_question, memory, tflops, rate, share = line[len(label):].split()
        assert int(questions) == int(re.search(r"(\d+) x", label).group(1))
        assert float(per_call) > 0 and float(per_question) == pytest.approx(float(per_call) / int(questions), abs=2e-3)
        assert memory == "-" and share == "-"  # CPU: no CUDA memory counter, no known peak
        assert float(tflops) > 0
    paper = next(line for line in out.splitlines() if line.startswith("paper (original code, A6000), forward chain"))
    assert paper.split()[-4:] == ["1", "3.280", "3.280", "7.98"]
    assert "compute ops not counted: none" in out
    assert "the goals (issue 20) apply to the full-size model" in out
    assert set(Path(tempfile.gettempdir()).glob("sevila_gpu_bench_*")) == before  # the cache folders are removed


def test_training_steps_change_only_their_stages_head(bench):
    _, work = bench
    model = work.random_sevila(torch.device("cpu"), tiny=True)
    assert model.precision.vision == torch.float16 and model.precision.language == torch.bfloat16

    def heads() -> dict[str, torch.Tensor]:
        return {name: torch.cat([p.detach().flatten().float() for p in getattr(model, name).parameters()])
                for name in ("localizer", "answerer")}

    def steps_until_changed(step, name: str, before: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # The GradScaler starts at 2**16 and skips steps whose fp16 gradients overflow, halving the scale each time.
        for _ in range(20):
            assert step() > 0
            after = heads()
            if not torch.equal(after[name], before[name]):
                return after
        raise AssertionError(f"20 steps left the {name} unchanged")

    start = heads()
    after2 = steps_until_changed(work.stage2_step(model, work.Batch.random(model, 2, 8)), "answerer", start)
    assert torch.equal(after2["localizer"], start["localizer"])
    after3 = steps_until_changed(work.stage3_step(model, work.Batch.random(model, 2, 4)), "localizer", after2)
    assert torch.equal(after3["answerer"], after2["answerer"])
    assert not model.training and not any(p.requires_grad for p in model.parameters())
