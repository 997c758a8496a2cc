"""Test-only Lightning callbacks given to a real `sevila fit` through `--trainer.callbacks+=...`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import lightning as L


class KillAtStep(L.Callback):
    """SIGKILLs its own process as training step `step` starts, as an out-of-memory killer or `kill -9` would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class BatchLog(L.Callback):
    """Appends each training step's number, questions and frame indices to a JSON-lines file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        row = {"step": trainer.global_step, "epoch": trainer.current_epoch, "qid": list(batch["qid"]),
               "frames": batch["frame_indices"].tolist()}
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
