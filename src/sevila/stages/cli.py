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
import yaml
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.trainer.states import TrainerStatus

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
from sevila.stages.runs import finish_run, run_folder, run_identity, start_run
from sevila.stages.selection import best_checkpoint

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
    """LightningCLI whose fit runs live in `<default_root_dir>/run-<digest>/` (`sevila.stages.runs`), one per
    configuration, with checkpoints in its `checkpoints/`, so `--ckpt_path=last` finds only a run of the same
    configuration. Lightning's default folder carries the logger's version, which changes every run, so a
    re-run of a killed stage would not find the previous run's last.ckpt. Every folder the run writes into
    is locked before anything is built, so a second run on the same folders stops with a clear error.
    """

    def __init__(self, *args: Any, locks: ExitStack, **kwargs: Any) -> None:
        self.locks = locks  # owned by the caller, so the locks are released even when the run fails
        self.run_folder: Path | None = None  # fit only: the run folder of this configuration
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
        config = self.config[self.subcommand]
        first = rank_zero_only.rank == 0 and os.environ.get("NODE_RANK", "0") == "0"
        model = config.model.init_args
        if first:  # the output paths as the user gave them, before the run folder is derived from the root
            check_run_outputs(config.trainer, model, OUTPUT_ARGS[self.subcommand])
        identity = None
        if self.subcommand == "fit":
            # Every process derives the same run folder from the same config: no coordination needed.
            identity = run_identity(yaml.safe_load(self._parser(self.subcommand).dump(config, skip_none=False)))
            self.run_folder = run_folder(config.trainer.default_root_dir or os.getcwd(), identity)
            config.trainer.default_root_dir = str(self.run_folder)
        if not first:
            return  # processes Lightning launches for DDP run under the first process's locks and checks
        folders = [config.trainer.default_root_dir or os.getcwd()]
        folders += [model[name] for name in OUTPUT_ARGS[self.subcommand] if model.get(name)]
        if model.get("export_path"):
            folders.append(Path(model.export_path).parent)
        for folder in sorted({os.path.realpath(folder) for folder in folders}):
            self.locks.enter_context(folder_lock(folder))
        if identity is not None:
            start_run(self.run_folder, identity, config.get("ckpt_path"), sys.argv)

    def after_fit(self) -> None:
        """A fit that ended normally marks its run folder finished (an interrupted one stays resumable)."""
        trainer = self.trainer
        if trainer.is_global_zero and trainer.state.status == TrainerStatus.FINISHED:
            best = best_checkpoint(trainer)
            finish_run(self.run_folder, {"global_step": trainer.global_step, "epochs": trainer.current_epoch,
                                         "best_checkpoint": str(best[0]) if best else None,
                                         "best_score": best[1] if best else None,
                                         "export_path": trainer.lightning_module.hparams.get("export_path")})

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
