"""Every stage under the paper profile's precision on CPU, against the same run in float32, feature cache cold and warm.

The paper profile: fp16 ViT and bf16 T5 (its model dtypes) and `trainer.precision: 16-mixed`, i.e. Lightning's
`MixedPrecision("16-mixed")`: fp16 autocast and a GradScaler around the trained heads' steps. Lightning turns
16-mixed on a CPU accelerator into bf16-mixed (no scaler), so these runs pass the very plugin it builds on a GPU,
with `device="cpu"` (torch's CPU autocast runs float16, and its GradScaler works on CPU).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from lightning.pytorch.plugins.precision import MixedPrecision
from stage_runner import STAGES, run_stage, write_overlay

from sevila.data.datamodules import DemoQA, QVHighlights
from sevila.stages import Evaluate, FinetuneAnswerer, PretrainLocalizer, RefineLocalizer

PAPER = yaml.safe_load((STAGES / "profiles" / "paper.yaml").read_text())
PAPER_DTYPES = {key: PAPER["model"]["init_args"][key] for key in ("vision_dtype", "language_dtype")}
# Measured here (seeded, 3 steps + validation): losses within 9.5e-4 relative of float32, yes-scores within 0.0099
# and option logits within 0.0133 absolute. bf16 keeps 8 bits (unit roundoff u = 2^-8 = 0.0039); T5's normalised
# hidden states are ~1, so each rounding on the way to a logit adds up to ~0.004 and the few of them measured here
# add up to ~3u: 8u = 0.031 bounds logits, and 3e-3 relative (~0.8u) the losses, fp32 means over bf16 logits. The
# dtypes themselves are pinned by tests/model/test_precision.py; here: the runs work and stay this close.
LOSS_RTOL = 3e-3
LOGIT_ATOL = 8 * 2.0**-8  # 0.031


def paper_plugin() -> MixedPrecision:
    """The plugin Lightning builds for the profile's precision on a GPU, on the CPU."""
    assert PAPER["trainer"]["precision"] == "16-mixed"
    return MixedPrecision("16-mixed", "cpu")


class Outputs(L.Callback):
    """What a run computed: losses and GradScaler scales per training step, every forward chain, trained heads."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.scales: list[float | None] = []
        self.chains: list = []
        self.metrics: dict[str, float] = {}
        self.heads_before: dict[str, torch.Tensor] = {}

    def setup(self, trainer, pl_module, stage) -> None:
        pl_module.model.register_forward_hook(lambda module, args, out: self.chains.append(out))
        self.heads_before = {k: v.clone() for k, v in pl_module.named_parameters() if v.requires_grad}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["loss"].item())
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        self.scales.append(None if scaler is None else scaler.get_scale())

    def on_validation_end(self, trainer, pl_module) -> None:
        self.metrics = {k: v.item() for k, v in trainer.callback_metrics.items() if k.startswith("val/")}


def _data(stage: type, root: Path):
    settings = dict(num_frames=4, eval_num_frames=4, batch_size=2, num_workers=0, frame_size=32,
                    random_train_frames=False)
    if stage is PretrainLocalizer:
        return QVHighlights(str(root / "moments"), str(root / "videos"), **settings)
    return DemoQA(str(root / "qa"), str(root / "videos"), test_file="val.json", **settings)


def run(stage: type, backbone: Path, benchmark: Path, folder: Path, paper: bool, cache: Path | None = None,
        **model) -> tuple[Outputs, L.LightningModule]:
    """One epoch of a stage (`sevila test` for Evaluate) in float32 or in the paper's precision."""
    L.seed_everything(0)
    if stage is RefineLocalizer:
        model["cache_dir"] = str(folder / "labels")
    if stage is Evaluate:
        model["output_dir"] = str(folder / "results")
    model.setdefault("lr", 1e-3)
    # Precision alone: dropout masks drawn for fp16 and fp32 tensors need not be the same draws.
    model.setdefault("dropout", "none")
    module = stage(backbone=str(backbone), num_keyframes=2, warmup_steps=1,
                   feature_cache=str(cache) if cache else None, **(PAPER_DTYPES if paper else {}), **model)
    outputs = Outputs()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, default_root_dir=str(folder), num_sanity_val_steps=0,
                        plugins=[paper_plugin()] if paper else None, callbacks=[outputs])
    (trainer.test if stage is Evaluate else trainer.fit)(module, _data(stage, benchmark))
    return outputs, module


def chain_values(outputs: Outputs, name: str) -> list[torch.Tensor]:
    """One field of every recorded chain output; option logits only over the 4 options (the fifth is -inf)."""
    values = [getattr(chain, name) for chain in outputs.chains]
    return [value[..., :4] if name == "option_logits" else value for value in values if value is not None]


def largest_gaps(mixed: Outputs, plain: Outputs) -> dict[str, float]:
    """Mixed vs float32: relative loss gap, and absolute score / option-logit gaps where the keyframes agree."""
    gaps = {"loss": max([abs(a - b) / abs(b) for a, b in zip(mixed.losses, plain.losses)], default=0.0)}
    gaps["val_loss"] = abs(mixed.metrics.get("val/loss", 0) - plain.metrics.get("val/loss", 0)) / abs(
        plain.metrics.get("val/loss", 1))
    gaps["scores"] = max([(a - b).abs().max().item() for a, b in
                          zip(chain_values(mixed, "frame_scores"), chain_values(plain, "frame_scores"))], default=0.0)
    same_keyframes = [torch.equal(a.keyframe_indices, b.keyframe_indices) for a, b in zip(mixed.chains, plain.chains)]
    gaps["option_logits"] = max([(a - b).abs().max().item() for a, b, same in zip(
        chain_values(mixed, "option_logits"), chain_values(plain, "option_logits"), same_keyframes) if same],
        default=0.0)
    return gaps


# Uniform selection too: the tiny Localizer's scores are near ties, which bf16 breaks differently (as the
# original's bf16 scores do), and option logits are compared only where both runs read the same keyframes.
CASES = [(PretrainLocalizer, {}), (FinetuneAnswerer, {}), (FinetuneAnswerer, {"selection": "uniform"}),
         (RefineLocalizer, {}), (Evaluate, {"selection": "localizer"}), (Evaluate, {"selection": "uniform"})]


@pytest.mark.parametrize(("stage", "model"), CASES, ids=lambda case: getattr(case, "__name__", str(case)))
def test_stage_under_paper_precision_is_close_to_float32(tmp_path, seeing_backbone, tiny_benchmark, stage, model):
    cache = tmp_path / "features"  # shared: the float32 run must not reuse the mixed-precision features
    cold, cold_module = run(stage, seeing_backbone, tiny_benchmark, tmp_path / "cold", True, cache, **model)
    warm, warm_module = run(stage, seeing_backbone, tiny_benchmark, tmp_path / "warm", True, cache, **model)
    plain, plain_module = run(stage, seeing_backbone, tiny_benchmark, tmp_path / "fp32", False, cache, **model)
    gaps = largest_gaps(cold, plain)
    assert cold_module.vit_frames > 0 and warm_module.vit_frames == 0
    assert plain_module.vit_frames == cold_module.vit_frames  # another ViT precision: features computed afresh
    assert warm.losses == cold.losses and warm.metrics == cold.metrics
    for name in ("frame_scores", "option_logits"):
        assert all(map(torch.equal, chain_values(warm, name), chain_values(cold, name)))
    assert len(cold.chains) == len(plain.chains) and (stage is PretrainLocalizer or cold.chains)
    if model.get("selection") == "uniform":
        assert all(torch.equal(a.keyframe_indices, b.keyframe_indices) for a, b in zip(cold.chains, plain.chains))
    assert gaps["loss"] <= LOSS_RTOL and gaps["val_loss"] <= LOSS_RTOL
    assert gaps["scores"] <= LOGIT_ATOL and gaps["option_logits"] <= LOGIT_ATOL
    if stage is not Evaluate:
        assert all(scale is not None and scale <= 2.0**16 for scale in cold.scales)  # the GradScaler is in the loop
        trained = dict(cold_module.named_parameters())
        assert any(not torch.equal(trained[k], v) for k, v in cold.heads_before.items())  # not every step skipped


@pytest.mark.parametrize(("verb", "stage"), [("fit", "finetune_answerer"), ("test", "evaluate")])
def test_paper_profile_runs_through_the_cli_on_cpu(tmp_path, seeing_backbone, tiny_benchmark, verb, stage):
    # The profile as it is (16-mixed, which Lightning turns into bf16-mixed on a CPU: the set-up that crashed at the
    # first ViT call), only pointed at the tiny backbone and data.
    results = tmp_path / "results"
    export = tmp_path / "answerer.safetensors"
    model = {"output_dir": str(results)} if stage == "evaluate" else {"export_path": str(export)}
    overlay = write_overlay(tmp_path / "overlay.yaml", seeing_backbone, tiny_benchmark, "qa", model=model,
                            data={"frame_size": 32, "test_file": "val.json"},
                            trainer={"default_root_dir": str(tmp_path), "max_steps": 2})
    assert run_stage(verb, stage, "demo_qa", overlay, profile="paper") == 0
    assert (results / "metrics.json" if stage == "evaluate" else export).is_file()
