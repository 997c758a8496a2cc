"""What every stage shares: building SeViLA on a backbone, explicit freezing, optimiser, slim checkpoints."""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar, Literal

import lightning as L
import torch

from sevila.data.batch import MomentBatch, QABatch
from sevila.data.datamodules import ClipDataModule
from sevila.data.datasets import item_seed
from sevila.errors import SevilaError
from sevila.model.backbone import DEFAULT_BACKBONE, load_blip2
from sevila.model.feature_cache import FeatureCache, vision_fingerprint
from sevila.model.precision import DTYPES
from sevila.model.sevila import SeViLA
from sevila.stages.global_batch import apply_batch_plan, schedule_length
from sevila.stages.optim import OptimizerSettings, Schedule, build_optimizer
from sevila.stages.precision import heads_training_dtype
from sevila.stages.selection import best_checkpoint, load_best_weights
from sevila.stages.skipped_videos import SkippedVideos
from sevila.model.head_weights import load_heads, save_heads

log = logging.getLogger(__name__)

# Which training passes run with dropout (the ViT never does, as in the original): `none` = none at all;
# `trained` = the trained module's pass (its Q-Former and the T5); `all` = also the frozen module's no-grad pass
# (stage 2's keyframe selection, stage 3's pseudo-labels), as the original's `model.train()` (recipe §5).
Dropout = Literal["none", "trained", "all"]
DROPOUTS: tuple[Dropout, ...] = ("none", "trained", "all")


class SevilaStage(L.LightningModule):
    """Base of the stage modules; a subclass names what it trains in `trains`."""

    stage_name: ClassVar[str] = "stage"
    trains: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        num_keyframes: int = 4,
        init_localizer: str | None = None,
        init_answerer: str | None = None,
        export_path: str | None = None,
        vision_dtype: str = "float32",
        language_dtype: str = "float32",
        lr: float = 3e-5,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_steps: int = 1000,
        warmup_start_lr: float = 1e-8,
        min_lr: float = 0.0,
        feature_cache: str | None = None,
        global_batch_size: int | None = None,
        max_device_batch_size: int | None = None,
        recipe_accumulation: int = 1,
        lr_schedule: Schedule = "official",
        dropout: Dropout = "trained",
        chunk_size: int | None = None,
    ) -> None:
        """What every stage shares.

        Args:
            backbone: BLIP-2 hub name or local `save_pretrained` directory.
            num_keyframes: k, the keyframes the Answerer reads.
            init_localizer: a stage output (.safetensors) holding the Localizer to start from; none = BLIP-2's
                Q-Former.
            init_answerer: a stage output (.safetensors) holding the Answerer to start from; none = BLIP-2's
                Q-Former (zero-shot).
            export_path: where this stage writes its trained heads at the end of `fit`.
            vision_dtype: dtype of the frozen ViT's Linear weights, and of the autocast it runs under: float32,
                bfloat16 or float16 (paper: float16). The trained heads' dtype follows trainer.precision.
            language_dtype: dtype of the frozen T5's weights and autocast: float32, bfloat16 or float16 (paper:
                bfloat16).
            lr: peak learning rate of AdamW (method §6).
            weight_decay: AdamW weight decay of the matrices (biases, norms and 1-D tensors get none).
            betas: AdamW betas.
            warmup_steps: warm-up iterations in epoch 0, counted as the official scheduler counts them: micro-batches
                of the recipe, `recipe_accumulation` per optimizer step (cut short if epoch 0 is shorter).
            warmup_start_lr: learning rate of warm-up iteration 0.
            min_lr: the cosine's floor (the official per-epoch cosine never reaches it).
            feature_cache: folder of the on-disk ViT feature cache (`sevila.model.feature_cache`); none = no cache.
            global_batch_size: items per optimizer step over all processes; the per-device batch (data.batch_size)
                and trainer.accumulate_grad_batches then follow from the world size. none = data.batch_size per
                device, as given.
            max_device_batch_size: most items per device and forward pass when global_batch_size splits the batch
                (the recipe's per-GPU batch); none = the whole per-device share at once.
            recipe_accumulation: micro-batches per optimizer step in the recipe (official run scripts: 2 for NExT-QA
                fine-tuning); the schedule counts warm-up in them and the loss is summed over them, as the original
                sums its accumulated losses, whatever this run's own accumulation.
            lr_schedule: `official` (LAVIS linear_warmup_cosine_lr: warm-up in epoch 0, then a cosine constant
                within each epoch) or `cosine` (the same warm-up, then a smooth per-step cosine down to min_lr).
            dropout: which training passes run with dropout: `none`; `trained` (the trained module's Q-Former
                and the T5 in its pass); `all` (also the frozen module's pass: stage 2's Localizer picking
                keyframes, stage 3's Answerer making pseudo-labels), as the original (paper profile).
            chunk_size: frames per ViT call and (question, frame) pairs per T5 call in the frozen passes (the
                Localizer's frame scores, stage 3's pseudo-labels), to bound their memory; none = all at once.
        """
        super().__init__()
        self.save_hyperparameters()
        for name, value in (("vision_dtype", vision_dtype), ("language_dtype", language_dtype)):
            if value not in DTYPES:
                raise SevilaError(f"model.{name}={value!r}: expected one of {sorted(DTYPES)}")
        if dropout not in DROPOUTS:
            raise SevilaError(f"model.dropout={dropout!r}: expected one of {', '.join(DROPOUTS)}")
        self.model = SeViLA(load_blip2(backbone), num_keyframes).set_precision(DTYPES[vision_dtype], DTYPES[language_dtype])
        for module, path in (("localizer", init_localizer), ("answerer", init_answerer)):
            if path:
                load_heads(self.model, path, module)
                log.info("%s: %s starts from %s", self.stage_name, module, path)
        self.model.train_only(self.trains)
        for name, value in (("global_batch_size", global_batch_size), ("max_device_batch_size", max_device_batch_size),
                            ("recipe_accumulation", recipe_accumulation), ("chunk_size", chunk_size)):
            if value is not None and value < 1:
                raise SevilaError(f"model.{name} is {value}; expected a positive integer")
        self.optimizer_settings = OptimizerSettings(lr, weight_decay, betas, warmup_steps, warmup_start_lr, min_lr,
                                                    recipe_accumulation, lr_schedule)
        self.model.frozen_dropout = dropout == "all"
        self.model.chunk_size = chunk_size
        self.strict_loading = False  # checkpoints hold the trained heads only
        self.skipped_videos = SkippedVideos()
        vision = vision_fingerprint(self.model.backbone_name, self.model.vision_model, self.model.precision.vision)
        self.features = FeatureCache(feature_cache, vision) if feature_cache else None
        self.vit_frames = 0  # frames run through the ViT: 0 once the feature cache holds them all

    def train(self, mode: bool = True) -> SevilaStage:
        """Training modes per `dropout`; the ViT stays in eval mode, as in the original."""
        super().train(mode)
        (self.model if self.hparams.dropout == "none" else self.model.vision_model).eval()
        return self

    def setup(self, stage: str) -> None:
        """In training steps the heads compute in the trainer's autocast dtype (16-mixed: fp16, the original's)."""
        policy = self.model.precision
        self.model.set_precision(policy.vision, policy.language, heads_training_dtype(self.trainer.precision))

    def on_train_start(self) -> None:
        # Lightning restores the training loader's position in setup_data, which configure_optimizers'
        # estimated_stepping_batches already ran before the checkpoint was read; apply it now (no-op if none).
        self.trainer.fit_loop._load_combined_loader_states()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Collect skipped videos; seed dropout from (seed, step, rank), so a resumed run repeats the same draws."""
        self.skipped_videos.collect(batch)
        self.model.precision_for_step(training=True)
        torch.manual_seed(item_seed(int(os.environ.get("PL_GLOBAL_SEED", 0)), self.global_step, self.global_rank))

    @property
    def selection_metric(self) -> str:
        """The validation metric whose best epoch the stage exports (`sevila.stages.selection.BestEpoch`)."""
        raise NotImplementedError(f"{type(self).__name__} names no selection metric")

    def configure_optimizers(self) -> dict:
        """AdamW and the lr schedule; first the global batch is split for this world size, before the loader exists."""
        if self.hparams.global_batch_size is not None:
            apply_batch_plan(self.trainer, self.clip_data, self.hparams.global_batch_size,
                             self.hparams.max_device_batch_size)
        steps_per_epoch, max_epochs = schedule_length(self.trainer)
        return build_optimizer(self.model, self.optimizer_settings, steps_per_epoch, max_epochs)

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Lightning averages the accumulated micro-batches; the original sums its `recipe_accumulation` of them."""
        super().backward(loss * self.optimizer_settings.recipe_accumulation, *args, **kwargs)

    @property
    def clip_data(self) -> ClipDataModule:
        """The run's DataModule: one of `sevila.data.datamodules`, whose settings the stage reads."""
        data = self.trainer.datamodule
        if not isinstance(data, ClipDataModule):
            raise SevilaError(
                f"data: {type(data).__name__} is not a sevila DataModule; use a stages/data/*.yaml config "
                "(a class of sevila.data.datamodules)"
            )
        return data

    def on_fit_start(self) -> None:
        """Set the training modes; random training frames and crops never repeat, so the cache skips them."""
        # Lightning never calls train(): modules would keep the eval mode from_pretrained left them in (and each
        # validation restores the modes it found), so no pass would have dropout whatever `dropout` says.
        self.train()
        if self.features is not None and self.clip_data.random_train_frames:
            log.info("model.feature_cache: training frames and crops are drawn at random (data.random_train_frames), "
                     "so the cache serves validation only and every training frame runs the ViT")

    def encode(self, batch: QABatch | MomentBatch) -> torch.Tensor:
        """Raw ViT features (B, T, P, D) float32 of a batch's frames, via the feature cache when set.

        Randomly drawn (and cropped) training frames bypass the cache: their features are never seen again.
        """
        if self.features is None or (self.training and self.clip_data.random_train_frames):
            return self.run_vit(batch["frames"])
        # Stored and fresh features alike are float16-rounded, so every epoch sees the same numbers.
        stored = self.features.features(
            batch["video_file"], batch["frame_indices"], batch["frames"], lambda f: self.run_vit(f.unsqueeze(0))[0]
        )
        return stored.float()

    def run_vit(self, frames: torch.Tensor) -> torch.Tensor:
        """The frozen ViT on frames (B, T, 3, S, S), counted in `vit_frames`; no graph is kept."""
        self.vit_frames += frames.shape[0] * frames.shape[1]
        with torch.no_grad():
            return self.model.encode_frames(frames)

    def on_validation_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.skipped_videos.collect(batch)

    def on_test_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.skipped_videos.collect(batch)

    def on_train_end(self) -> None:
        run_folder = self.trainer.log_dir or self.trainer.default_root_dir
        count = self.skipped_videos.report(run_folder, self.trainer.is_global_zero)
        if self.logger is not None:
            self.logger.log_metrics({"skipped_videos": count}, step=self.global_step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        prefixes = tuple(f"model.{name}." for name in self.trains)
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefixes)}
        checkpoint["sevila"] = {"stage": self.stage_name, "backbone": self.model.backbone_name}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        stored = checkpoint.get("sevila", {}).get("stage")
        path = self.trainer.ckpt_path if self._trainer is not None else "checkpoint"
        if stored != self.stage_name:
            raise SevilaError(
                f"{path}: checkpoint is from stage {stored!r}, not {self.stage_name!r}: resume with the same stage's "
                "last.ckpt, or pass the previous stage's .safetensors output as model.init_localizer/init_answerer"
            )
        own = self.state_dict()
        wrong = [k for k, v in checkpoint["state_dict"].items() if k not in own or own[k].shape != v.shape]
        if wrong:
            raise SevilaError(
                f"{path}: checkpoint was trained on backbone {checkpoint['sevila'].get('backbone')!r} and does not fit "
                f"{self.model.backbone_name!r} (first mismatched weights: {wrong[:3]}); use a matching model.backbone"
            )

    def on_fit_end(self) -> None:
        """Export the trained heads of the best validation epoch (the last weights if no validation ran)."""
        path = self.hparams.export_path
        if not (path and self.trainer.is_global_zero):
            return
        best = best_checkpoint(self.trainer)
        if best is None:
            log.info("%s: no best validation epoch was saved; exporting the last weights", self.stage_name)
        else:
            epoch = load_best_weights(self, best[0])
            log.info("%s: exporting epoch %d, the best by %s (%.4f)", self.stage_name, epoch, self.selection_metric,
                     best[1])
        save_heads(self.model, path, self.trains, self.stage_name)
        log.info("%s: wrote %s", self.stage_name, path)
