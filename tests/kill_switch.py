"""Test-only kill switches: Lightning callbacks given to a real `sevila fit` through `--trainer.callbacks+=...`,
and an fsync counter for plain verbs such as `sevila predict --questions`."""

from __future__ import annotations

import os
import signal

import lightning as L


class KillAtStep(L.Callback):
    """SIGKILLs its own process as training step `step` starts, as an out-of-memory killer or `kill -9` would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)



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
