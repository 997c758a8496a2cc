"""Each stage module on the tiny backbone: what trains, what is cached, what a checkpoint holds and resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch

from sevila.data.datamodules import DemoQA, QVHighlights
from sevila.errors import SevilaError
from sevila.stages import Evaluate, FinetuneAnswerer, PretrainLocalizer, RefineLocalizer
from sevila.stages.pseudo_labels import PseudoLabelCache
from sevila.model.head_weights import save_heads


def _qa_data(root: Path, **kwargs) -> DemoQA:
    settings = dict(num_frames=4, eval_num_frames=4, batch_size=2, num_workers=0, frame_size=32)
    return DemoQA(str(root / "qa"), str(root / "videos"), **{**settings, **kwargs})


def _trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    settings = dict(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_progress_bar=False,
                    enable_checkpointing=False, default_root_dir=str(tmp_path), num_sanity_val_steps=0)
    return L.Trainer(**{**settings, **kwargs})


class GradientRecorder(L.Callback):
    """Names of the parameters that received a gradient in the first training step."""

    def __init__(self) -> None:
        self.names: set[str] | None = None

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        if self.names is None:
            self.names = {n for n, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    ("stage_class", "trained", "data"),
    [(PretrainLocalizer, "model.localizer.head.", "moments"), (FinetuneAnswerer, "model.answerer.head.", "qa"),
     (RefineLocalizer, "model.localizer.head.", "qa")],
)
def test_stage_gradients_reach_exactly_the_trained_head(tmp_path, tiny_backbone_dir, tiny_benchmark, stage_class, trained, data):
    extra = {"cache_dir": str(tmp_path / "cache")} if stage_class is RefineLocalizer else {}
    module = stage_class(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1, **extra)
    if data == "moments":
        datamodule = QVHighlights(str(tiny_benchmark / "moments"), str(tiny_benchmark / "videos"), num_frames=4,
                                  eval_num_frames=4, batch_size=2, num_workers=0, frame_size=32)
    else:
        datamodule = _qa_data(tiny_benchmark)
    recorder = GradientRecorder()
    _trainer(tmp_path, max_steps=1, callbacks=[recorder], limit_val_batches=0).fit(module, datamodule)
    expected = {n for n, _ in module.named_parameters() if n.startswith(trained)}
    assert recorder.names == expected
    assert {n for n, p in module.named_parameters() if p.requires_grad} == expected


def test_refine_reuses_cached_pseudo_labels_in_epoch_two(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1, cache_dir=str(tmp_path))
    calls_per_epoch: list[int] = []

    class CountCalls(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            calls_per_epoch.append(pl_module.answerer_calls - sum(calls_per_epoch))

    data = _qa_data(tiny_benchmark, random_train_frames=False)
    _trainer(tmp_path, max_epochs=2, callbacks=[CountCalls()], limit_val_batches=0).fit(module, data)
    assert calls_per_epoch == [6, 0]  # 6 training questions labelled once, then all from the cache


def test_refine_restart_reads_the_cache_from_disk(tmp_path, tiny_backbone_dir, tiny_benchmark):
    first = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1, cache_dir=str(tmp_path))
    _trainer(tmp_path, limit_val_batches=0).fit(first, _qa_data(tiny_benchmark, random_train_frames=False))
    second = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1, cache_dir=str(tmp_path))
    _trainer(tmp_path, limit_val_batches=0).fit(second, _qa_data(tiny_benchmark, random_train_frames=False))
    assert first.answerer_calls == 6 and second.answerer_calls == 0


def test_stage_checkpoint_holds_only_trained_weights_and_resumes(tmp_path, tiny_backbone_dir, tiny_benchmark):
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, save_top_k=0)
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1)
    trainer = _trainer(tmp_path, max_epochs=1, callbacks=[checkpoint], enable_checkpointing=True, limit_val_batches=0)
    trainer.fit(module, _qa_data(tiny_benchmark))
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert saved["state_dict"] and all(k.startswith("model.answerer.") for k in saved["state_dict"])
    assert saved["sevila"]["stage"] == "finetune_answerer"
    resumed = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1)
    steps_at_start: list[int] = []

    class StartStep(L.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            steps_at_start.append(trainer.global_step)

    trainer = _trainer(tmp_path, max_epochs=2, callbacks=[StartStep()], limit_val_batches=0)
    trainer.fit(resumed, _qa_data(tiny_benchmark), ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert steps_at_start == [3] and trainer.global_step == 6  # 3 batches per epoch: resumed after epoch 1
    for key, value in saved["state_dict"].items():
        assert not torch.equal(resumed.state_dict()[key], value)  # training went on from the saved weights


def test_stage_refuses_a_checkpoint_of_another_stage(tmp_path, tiny_backbone_dir, tiny_benchmark):
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, save_top_k=0)
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1)
    _trainer(tmp_path, callbacks=[checkpoint], enable_checkpointing=True, limit_val_batches=0).fit(
        module, _qa_data(tiny_benchmark))
    other = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(SevilaError, match="from stage 'finetune_answerer', not 'refine_localizer'"):
        _trainer(tmp_path, limit_val_batches=0).fit(
            other, _qa_data(tiny_benchmark), ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))


def test_stage_init_rejects_weights_of_the_wrong_module(tmp_path, tiny_backbone_dir):
    module = Evaluate(backbone=str(tiny_backbone_dir), num_keyframes=2)
    save_heads(module.model, tmp_path / "answerer.safetensors", ["answerer"], "finetune_answerer")
    with pytest.raises(SevilaError, match="holds no localizer weights"):
        Evaluate(backbone=str(tiny_backbone_dir), init_localizer=str(tmp_path / "answerer.safetensors"))


def test_stage_init_loads_the_previous_stage_output(tmp_path, tiny_backbone_dir):
    trained = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2)
    with torch.no_grad():
        trained.model.answerer.head.query_tokens.add_(1.0)
    save_heads(trained.model, tmp_path / "answerer.safetensors", ["answerer"], "finetune_answerer")
    loaded = Evaluate(backbone=str(tiny_backbone_dir), init_answerer=str(tmp_path / "answerer.safetensors"))
    assert torch.equal(loaded.model.answerer.head.query_tokens, trained.model.answerer.head.query_tokens)
    assert not torch.equal(loaded.model.localizer.head.query_tokens, trained.model.answerer.head.query_tokens)


def test_uniform_evaluation_reads_the_official_k_segment_midpoints(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = Evaluate(backbone=str(tiny_backbone_dir), num_keyframes=4, selection="uniform", output_dir=str(tmp_path))
    _trainer(tmp_path).test(module, _qa_data(tiny_benchmark, eval_num_frames=32, test_file="val.json"))
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    # The original's uniform baseline: n_frms=4 over the 24-frame clip, linspace(0, 24, 5).astype(int) and the
    # midpoint (lo + hi) // 2 of each segment (recipe §6). Uniform over 32 candidates would give 4, 12, 20, 23.
    bounds = np.linspace(0, 24, 4 + 1).astype(int)
    official = [int(lo + hi) // 2 for lo, hi in zip(bounds[:-1], bounds[1:])]
    assert official == [3, 9, 15, 21]
    assert [row["frame_idx"] for row in predictions] == [official] * 2
    assert json.loads((tmp_path / "metrics.json").read_text())["selection"] == "uniform"


def test_uniform_finetuning_trains_on_k_frames_drawn_within_k_segments(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, selection="uniform", warmup_steps=1)
    drawn: list[list[int]] = []

    class Frames(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            drawn.extend(batch["frame_indices"].tolist())

    _trainer(tmp_path, callbacks=[Frames()], limit_val_batches=0).fit(module, _qa_data(tiny_benchmark, num_frames=32))
    assert len(drawn) == 6 and all(0 <= first < 12 <= second < 24 for first, second in drawn)  # segments of 24 / 2
    assert len({tuple(frames) for frames in drawn}) > 1  # random within the segments, not their midpoints


def _dropout_of(module: torch.nn.Module) -> torch.nn.Dropout:
    """The first dropout layer inside a module (the tiny Q-Formers have p=0.1, the tiny T5 p=0)."""
    return next(m for m in module.modules() if isinstance(m, torch.nn.Dropout))


@pytest.mark.parametrize(
    ("dropout", "frozen_pass", "trained_pass"),
    [("none", (False, False), (False, False)), ("trained", (False, False), (True, True)),
     ("all", (True, True), (True, True))],
)
def test_refine_dropout_setting_decides_which_passes_run_with_dropout(
    tmp_path, tiny_backbone_dir, tiny_benchmark, dropout, frozen_pass, trained_pass
):
    module = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1,
                             cache_dir=str(tmp_path / "labels"), dropout=dropout)
    model = module.model
    modes: dict[str, tuple[bool, bool]] = {}  # (the head's Q-Former dropout, the T5's) while each head runs

    def record(name: str) -> None:
        head = getattr(model, name).head

        def hook(module: torch.nn.Module, args: Any) -> None:
            modes.setdefault(name, (_dropout_of(head).training, _dropout_of(model.language_model).training))

        head.register_forward_pre_hook(hook)

    record("answerer")
    record("localizer")
    _trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(module, _qa_data(tiny_benchmark))
    assert modes == {"answerer": frozen_pass, "localizer": trained_pass}  # pseudo-labels first, then the loss
    assert not model.vision_model.training  # never, as in the original


def test_refine_refuses_pseudo_labels_made_with_other_dropout(tmp_path, tiny_backbone_dir, tiny_benchmark):
    def refine(dropout: str) -> None:
        module = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1,
                                 cache_dir=str(tmp_path / "labels"), dropout=dropout)
        _trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(module, _qa_data(tiny_benchmark))

    refine("trained")
    with pytest.raises(SevilaError, match=r"pseudo-labels were made by another model \(frozen_dropout differ"):
        refine("all")


def test_stage_rejects_an_unknown_dropout(tiny_backbone_dir):
    with pytest.raises(SevilaError, match="model.dropout='some': expected one of none, trained, all"):
        Evaluate(backbone=str(tiny_backbone_dir), dropout="some")


def test_refine_labels_each_new_frame_once_and_keeps_stored_labels(tmp_path, tiny_backbone_dir, tiny_benchmark):
    # Random frames: a question mixes frames labelled in an earlier epoch with new ones (and a short clip may
    # repeat a frame); only the new (question, frame) pairs go to the Answerer, each once, and no label changes.
    module = RefineLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, cache_dir=str(tmp_path / "labels"))
    module.cache = PseudoLabelCache(tmp_path / "labels", {"answerer": "test"})  # what setup() builds in a run
    module.cache.store("q0", 3, True)  # a label stored earlier, whatever the Answerer says now: it must survive
    sent: list[int] = []
    module.model.answerer.head.register_forward_pre_hook(lambda head, args: sent.append(args[0].shape[0]))
    raw = module.model.encode_frames(torch.randn(2, 3, 3, 32, 32))
    text = "Question: q? Option A: a. Option B: b. Considering the information presented in the frame, select the " \
           "correct answer from the options."
    batch = {"qid": ["q0", "q1"], "frame_indices": torch.tensor([[3, 5, 5], [3, 4, 6]]), "answerer_text": [text] * 2,
             "num_options": torch.tensor([2, 2]), "answer": torch.tensor([0, 1])}
    labels = module.pseudo_labels(raw, batch)
    assert sent == [1 + 3]  # q0's frame 5 once, q1's three frames; q0's frame 3 came from the cache
    assert labels[0, 0] and labels[0, 1] == labels[0, 2] and module.answerer_calls == 2
    assert module.cache.lookup("q0", 3) is True and len(module.cache.labels) == 5
    assert module.pseudo_labels(raw, batch).tolist() == labels.tolist() and sent == [4]  # all cached now
