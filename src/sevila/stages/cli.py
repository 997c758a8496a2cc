"""`sevila fit|validate|test -c stages/<stage>.yaml [-c stages/profiles/<profile>.yaml] [--flags]` via LightningCLI."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.cli import LightningCLI

from sevila.stages.base import SevilaStage


def _run(verb: str, argv: list[str]) -> int:
    LightningCLI(
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
