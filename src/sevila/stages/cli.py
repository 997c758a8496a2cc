"""`sevila fit|validate|test -c stages/<stage>.yaml [-c stages/profiles/<profile>.yaml] [--flags]` via LightningCLI."""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from sevila.errors import SevilaError
from sevila.stages.base import SevilaStage
from sevila.stages.config_errors import check_checkpoint_readable, parse_error_line, user_error_in


class SevilaCLI(LightningCLI):
    """LightningCLI whose checkpoints live in `<default_root_dir>/checkpoints`, so `--ckpt_path=last` finds them.

    Lightning's default folder carries the logger's version, which changes every run, so a re-run
    of a killed stage would not find the previous run's last.ckpt.
    """

    def parse_arguments(self, parser: LightningArgumentParser, args: list[str]) -> None:
        """Parse; a refused key or value becomes one SevilaError line instead of the usage block."""
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

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        for callback in trainer.checkpoint_callbacks:
            if callback.dirpath is None:
                callback.dirpath = os.path.join(trainer.default_root_dir, "checkpoints")
        return trainer


def _run(verb: str, argv: list[str]) -> int:
    SevilaCLI(
        model_class=SevilaStage,
        datamodule_class=L.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=[verb, *argv],
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
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
