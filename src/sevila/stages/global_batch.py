"""The recipe's global batch on any world size: Lightning's world size decides per-device batch and accumulation."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import lightning as L

from sevila.errors import SevilaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchPlan:
    """How one optimizer step of `global_batch` items is split over the processes and micro-batches."""

    global_batch: int  # items per optimizer step, all processes together
    world_size: int  # processes (trainer.devices x trainer.num_nodes)
    device_batch: int  # items per process and forward pass
    accumulation: int  # micro-batches per optimizer step (trainer.accumulate_grad_batches)


def plan_batch(global_batch: int, world_size: int, max_device_batch: int | None = None) -> BatchPlan:
    """The largest per-device micro-batch <= max_device_batch that splits global_batch evenly over world_size."""
    if global_batch % world_size:
        divisors = ", ".join(str(d) for d in range(1, global_batch + 1) if global_batch % d == 0)
        raise SevilaError(
            f"model.global_batch_size is {global_batch} but the run has {world_size} processes (trainer.devices x "
            f"trainer.num_nodes), which do not split it evenly; use {divisors} processes or change "
            "--model.init_args.global_batch_size"
        )
    share = global_batch // world_size
    limit = min(share, share if max_device_batch is None else max_device_batch)
    device_batch = max(d for d in range(1, limit + 1) if share % d == 0)
    return BatchPlan(global_batch, world_size, device_batch, share // device_batch)


def apply_batch_plan(trainer: L.Trainer, data: object, global_batch: int, max_device_batch: int | None) -> BatchPlan:
    """Set `data.batch_size` and `trainer.accumulate_grad_batches` for this world size, before the loader exists."""
    plan = plan_batch(global_batch, trainer.world_size, max_device_batch)
    if trainer.accumulate_grad_batches not in (1, plan.accumulation):
        raise SevilaError(
            f"trainer.accumulate_grad_batches is {trainer.accumulate_grad_batches}, but model.global_batch_size "
            f"({global_batch}) decides the accumulation from the world size; remove --trainer.accumulate_grad_batches "
            "(or set --model.init_args.max_device_batch_size to bound the per-device batch)"
        )
    data.batch_size = plan.device_batch
    trainer.accumulate_grad_batches = plan.accumulation
    log.info("global batch %d = %d processes x %d per device x accumulation %d", global_batch, plan.world_size,
             plan.device_batch, plan.accumulation)
    return plan


def schedule_length(trainer: L.Trainer) -> tuple[int, int]:
    """(optimizer steps per epoch, epochs) of this fit; Lightning also steps on an epoch's leftover micro-batches."""
    if trainer.train_dataloader is None:
        trainer.fit_loop.setup_data()  # what `trainer.estimated_stepping_batches` does: the loader's length
    batches = trainer.num_training_batches
    if math.isinf(batches):
        raise SevilaError("the training loader has no length, so the lr schedule cannot find its epochs")
    if batches == 0:  # the loader drops partial batches: fewer items per process than one batch
        size = getattr(trainer.datamodule, "batch_size", "?")
        raise SevilaError(
            f"the training split holds no full batch of {size} items per process (partial batches are dropped, "
            "as the original does); lower --model.init_args.global_batch_size or train on more data"
        )
    steps = max(1, math.ceil(batches / trainer.accumulate_grad_batches))
    epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else math.ceil(trainer.max_steps / steps)
    return steps, max(1, epochs)
