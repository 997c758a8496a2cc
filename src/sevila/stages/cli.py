"""`sevila fit|validate|test -c stages/<stage>.yaml [-c stages/profiles/<profile>.yaml] [--flags]` via LightningCLI."""

from __future__ import annotations

import io
import os
import sys
from contextlib import ExitStack, redirect_stderr
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from sevila.errors import SevilaError
from sevila.io import atomic_open
from sevila.stages.base import SevilaStage
from sevila.stages.config_errors import (
    check_checkpoint_readable,
    check_config_files,
    check_run_outputs,
    parse_error_line,
    user_error_in,
)
from sevila.stages.run_lock import folder_lock

# Model arguments naming folders a verb writes into: test writes predictions and metrics, fit the label cache.
OUTPUT_ARGS = {"fit": ("cache_dir",), "validate": ("cache_dir",), "test": ("output_dir",)}


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

    def parse_arguments(self, parser: LightningArgumentParser, args: list[str]) -> None:
        """Parse; a refused key or value becomes one SevilaError line instead of the usage block."""
        check_config_files(args)
        captured = io.StringIO()
        try:
            with redirect_stderr(captured):
                self.config = parser.parse_args(args)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise SevilaError(parse_error_line(captured.getvalue(), args)) from None
            sys.stderr.write(captured.getvalue())
            raise
        sys.stderr.write(captured.getvalue())

    def _parse_ckpt_path(self) -> None:
        """Check that --ckpt_path is readable; unlike LightningCLI, keep the config's model class and settings.

        LightningCLI would replace them with the checkpoint's hyper-parameters, so another stage's
        checkpoint would silently run that stage; here `on_load_checkpoint` refuses it instead.
        """
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and Path(ckpt_path).is_file():
            check_checkpoint_readable(ckpt_path)

    def instantiate_classes(self) -> None:
        """Build model and data; a SevilaError they raise surfaces as itself, not inside jsonargparse's report."""
        try:
            super().instantiate_classes()
        except ValueError as error:
            cause = user_error_in(error)
            if cause is None:
                raise
            raise cause from error

    def before_instantiate_classes(self) -> None:
        if rank_zero_only.rank != 0 or os.environ.get("NODE_RANK", "0") != "0":
            return  # processes Lightning launches for DDP run under the first process's locks
        config = self.config[self.subcommand]
        model = config.model.init_args
        check_run_outputs(config.trainer, model, OUTPUT_ARGS[self.subcommand])
        folders = [config.trainer.default_root_dir or os.getcwd()]
        folders += [model[name] for name in OUTPUT_ARGS[self.subcommand] if model.get(name)]
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
