"""`sevila fit|validate|test -c stages/<stage>.yaml [-c stages/profiles/<profile>.yaml] [--flags]` via LightningCLI."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from sevila.io import atomic_open
from sevila.stages.base import SevilaStage
from sevila.stages.run_lock import folder_lock

OUTPUT_ARGS = ("output_dir", "cache_dir")  # model arguments naming folders a stage writes into


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temp file beside the target, then renamed over it.

    Lightning's own save stages the file in the system temp folder and moves it; across file systems the
    move is a copy into the target, so a kill mid-copy would leave a truncated last.ckpt (and a stray temp file).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with atomic_open(path, "wb") as handle:
            torch.save(checkpoint, handle)


class SevilaCLI(LightningCLI):
    """LightningCLI whose checkpoints live in `<default_root_dir>/checkpoints`, so `--ckpt_path=last` finds them.

    Lightning's default folder carries the logger's version, which changes every run, so a re-run
    of a killed stage would not find the previous run's last.ckpt. Every folder the run writes into
    is locked before anything is built, so a second run on the same folders stops with a clear error.
    """

    def __init__(self, *args: Any, locks: ExitStack, **kwargs: Any) -> None:
        self.locks = locks  # owned by the caller, so the locks are released even when the run fails
        super().__init__(*args, **kwargs)

    def before_instantiate_classes(self) -> None:
        if rank_zero_only.rank != 0 or os.environ.get("NODE_RANK", "0") != "0":
            return  # processes Lightning launches for DDP run under the first process's locks
        config = self.config[self.subcommand]
        model = config.model.init_args
        folders = [config.trainer.default_root_dir or os.getcwd()]
        folders += [model[name] for name in OUTPUT_ARGS if model.get(name)]
        if model.get("export_path"):
            folders.append(Path(model.export_path).parent)
        for folder in sorted({os.path.realpath(folder) for folder in folders}):
            self.locks.enter_context(folder_lock(folder))

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        for callback in trainer.checkpoint_callbacks:
            if callback.dirpath is None:
                callback.dirpath = os.path.join(trainer.default_root_dir, "checkpoints")
        return trainer


def _run(verb: str, argv: list[str]) -> int:
    with ExitStack() as locks:
        SevilaCLI(
            model_class=SevilaStage,
            datamodule_class=L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=[verb, *argv],
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            locks=locks,
        )
    return 0


def fit(argv: list[str]) -> int:
    """Train a stage (its YAML names the LightningModule and the DataModule)."""
    return _run("fit", argv)


def validate(argv: list[str]) -> int:
    """Run a stage's validation loop."""
    return _run("validate", argv)


def test(argv: list[str]) -> int:
    """Run a stage's test loop (the Evaluate stage writes predictions here)."""
    return _run("test", argv)
