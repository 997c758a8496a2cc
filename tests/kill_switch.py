"""Test-only kill switches: Lightning callbacks given to a real `sevila fit` through `--trainer.callbacks+=...`,
and an fsync counter for plain verbs such as `sevila predict --questions`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import lightning as L
import torch


class KillAtStep(L.Callback):
    """SIGKILLs its own process as training step `step` starts, as an out-of-memory killer or `kill -9` would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class FailAtStep(L.Callback):
    """Raises as training step `step` starts, as a crash (CUDA out of memory, a bug) would: the run is unfinished."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"FailAtStep: crashed at step {self.step}")


class StepLog(L.Callback):
    """Writes to `path` (rank 0) the step training started at and, per optimizer step, the items of all processes
    that went into it, the lr it used, this process's batch size and accumulation."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items = 0
        self.record: dict = {"start_step": None, "steps": []}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record["start_step"] = trainer.global_step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self.items += len(batch["qid"])

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        items = trainer.strategy.reduce(torch.tensor(float(self.items)), reduce_op="sum")
        self.record["steps"].append({"items": int(items), "lr": optimizer.param_groups[0]["lr"],
                                  "device_batch": trainer.datamodule.batch_size,
                                  "accumulation": trainer.accumulate_grad_batches})
        self.items = 0

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            Path(self.path).write_text(json.dumps(self.record))

def kill_at_fsync(count: int) -> None:
    """SIGKILL this process as its `count`-th `os.fsync` returns: what it synced is on disk, nothing after it."""
    real_fsync = os.fsync
    calls = [0]

    def fsync(fd: int) -> None:
        real_fsync(fd)
        calls[0] += 1
        if calls[0] == count:
            os.kill(os.getpid(), signal.SIGKILL)

    os.fsync = fsync
