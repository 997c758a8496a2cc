"""Tests of the per-benchmark DataModules on tiny SeViLA-format annotation files and real videos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from video_factory import write_indexed_video

from sevila.data.annotations import MomentRecord, QARecord
from sevila.data.batch import MomentBatch, QABatch
from sevila.data.datamodules import (
    STAR,
    TVQA,
    VLEP,
    EpochSampler,
    How2QA,
    MomentDataModule,
    NExTQA,
    QVHighlights,
    VideoQADataModule,
)
from sevila.data.video_paths import video_path
from sevila.errors import SevilaError

SIZE, FRAMES, BATCH = 32, 4, 2
QA_MODULES: dict[type[VideoQADataModule], tuple[str, str, int, tuple[float, float] | None]] = {
    NExTQA: ("CW_{i}_0", "0001/{i}", 5, None),  # (qid, video, options, span) per benchmark
    STAR: ("Interaction_T1_{i}", "6H78U{i}", 4, (0.5, 1.5)),
    How2QA: ("HOW2QA_{i}", "how2_{i}", 4, (0.2, 1.8)),
    TVQA: ("TVQA_{i}", "friends_s01e01_seg02_clip_0{i}", 5, (0.0, 1.0)),
    VLEP: ("VLEP_{i}", "friends_s01e01_seg02_clip_0{i}_ep", 2, (1.0, 2.0)),
}
ALL_MODULES = [*QA_MODULES, QVHighlights]


@pytest.fixture(scope="module")
def source_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_indexed_video(tmp_path_factory.mktemp("source") / "clip.mp4", 20, fps=10)


def _qa_records(module: type[VideoQADataModule], count: int = 3) -> list[QARecord]:
    qid, video, options, span = QA_MODULES[module]
    start, end = span if span is not None else (None, None)
    question = "" if module is VLEP else "what happens?"
    texts = tuple(f"option {k}" for k in range(options))
    qtype = qid.split("_", 1)[0]
    return [
        QARecord(qid.format(i=i), video.format(i=i), question, texts, i % options, start, end, qtype)
        for i in range(count)
    ]


def _moment_records(count: int = 3) -> list[MomentRecord]:
    return [MomentRecord(f"QVHighlight_{i}", f"qvh_{i}", "a dog runs", 2.0, ((0.0, 1.0),)) for i in range(count)]


def _write_annotations(root: Path, records: list[Any], name: str) -> None:
    (root / "ann").mkdir(exist_ok=True)
    (root / "ann" / name).write_text(json.dumps([record.to_json() for record in records]), encoding="utf-8")


def _write_split(root: Path, module: type, source: Path, records: list[Any], name: str = "train.json") -> None:
    _write_annotations(root, records, name)
    for record in records:
        target = video_path(module.benchmark.name, root / "videos", record.video)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _datamodule(module: type, root: Path, source: Path, **kwargs: Any) -> Any:
    records = _moment_records() if module is QVHighlights else _qa_records(module)
    for split in ("train.json", "val.json"):
        _write_split(root, module, source, records, split)
    options = {"num_frames": FRAMES, "frame_size": SIZE, "batch_size": BATCH, "num_workers": 0, **kwargs}
    return module(str(root / "ann"), str(root / "videos"), **options)


def _check_batch_types(batch: dict[str, Any], expected_keys: frozenset[str], frames: int) -> None:
    assert set(batch) == set(expected_keys)
    assert batch["frames"].shape == (BATCH, frames, 3, SIZE, SIZE) and batch["frames"].dtype == torch.float32
    assert batch["frame_indices"].shape == (BATCH, frames) and batch["frame_indices"].dtype == torch.int64
    assert batch["fps"].shape == (BATCH,) and batch["fps"].dtype == torch.float32
    assert batch["index"].shape == (BATCH,) and batch["index"].dtype == torch.int64
    assert batch["skipped"] == []  # per batch, not per sample: the records on_bad_video="skip" left out
    lists = [key for key in batch if not isinstance(batch[key], torch.Tensor) and key != "skipped"]
    assert all(len(batch[key]) == BATCH for key in lists), {key: batch[key] for key in lists}


@pytest.mark.parametrize("module", ALL_MODULES, ids=lambda module: module.__name__)
def test_datamodule_setup_fit_yields_a_train_batch_matching_its_typed_dict(
    module: type, tmp_path: Path, source_video: Path
) -> None:
    datamodule = _datamodule(module, tmp_path, source_video)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    if module is QVHighlights:
        _check_batch_types(batch, MomentBatch.__required_keys__, FRAMES)
        assert batch["labels"].dtype == torch.bool and batch["timestamps"].dtype == torch.float32
    else:
        _check_batch_types(batch, QABatch.__required_keys__, FRAMES)
        assert batch["answer"].dtype == torch.int64 and batch["num_options"].tolist() == [QA_MODULES[module][2]] * BATCH


def test_vlep_datamodule_uses_event_prompts(tmp_path: Path, source_video: Path) -> None:
    datamodule = _datamodule(VLEP, tmp_path, source_video)
    datamodule.setup("validate")
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["answerer_text"][0].startswith("Upon observing the provided frames")


def test_qvhighlights_datamodule_evaluates_on_75_frames_by_default(tmp_path: Path, source_video: Path) -> None:
    datamodule = _datamodule(QVHighlights, tmp_path, source_video, num_frames=4)
    datamodule.setup("validate")
    batch = next(iter(datamodule.val_dataloader()))
    assert isinstance(datamodule, MomentDataModule) and batch["frames"].shape[1] == 75


@pytest.mark.parametrize("module", [STAR, QVHighlights], ids=lambda module: module.__name__)
def test_training_with_evaluation_frames_keeps_the_training_frame_count(
    module: type, tmp_path: Path, source_video: Path
) -> None:
    # Stage 3 trains on the midpoints of 4 segments and validates the forward chain on 32 frames.
    datamodule = _datamodule(module, tmp_path, source_video, num_frames=4, eval_num_frames=6, random_train_frames=False)
    datamodule.setup("fit")
    train, val = next(iter(datamodule.train_dataloader())), next(iter(datamodule.val_dataloader()))
    assert (train["frames"].shape[1], val["frames"].shape[1]) == (4, 6)


def test_qvhighlights_datamodule_trains_on_4_frames_by_default(tmp_path: Path) -> None:
    assert QVHighlights(str(tmp_path), str(tmp_path)).num_frames == 4


def test_datamodule_val_dataloader_keeps_file_order(tmp_path: Path, source_video: Path) -> None:
    datamodule = _datamodule(STAR, tmp_path, source_video, eval_batch_size=3)
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["index"].tolist() == [0, 1, 2] and batch["qid"][0] == "Interaction_T1_0"


def test_datamodule_missing_annotation_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    datamodule = STAR(str(tmp_path / "ann"), str(tmp_path / "videos"))
    with pytest.raises(SevilaError, match=r"ann/train\.json: star train annotations not found.*sevila prepare star"):
        datamodule.setup("fit")


def test_datamodule_test_stage_without_test_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match="set --data.test_file"):
        How2QA(str(tmp_path), str(tmp_path)).setup("test")


@pytest.mark.parametrize("flag", ["num_frames", "eval_num_frames", "frame_size", "batch_size", "eval_batch_size"])
def test_datamodule_rejects_a_non_positive_size_naming_the_flag(tmp_path: Path, flag: str) -> None:
    with pytest.raises(SevilaError, match=f"--data.{flag} is 0; expected a positive integer"):
        TVQA(str(tmp_path), str(tmp_path), **{flag: 0})


def test_datamodule_rejects_a_video_map_outside_nextqa(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match="video_map applies to NExT-QA only"):
        TVQA(str(tmp_path), str(tmp_path), video_map=str(tmp_path / "map.json"))


def test_nextqa_datamodule_resolves_bare_ids_through_the_video_map(tmp_path: Path, source_video: Path) -> None:
    records = [QARecord("CW_42_0", "42", "why?", tuple("abcde"), 0, None, None, "CW")]
    _write_annotations(tmp_path, records, "val.json")
    (tmp_path / "videos" / "0007").mkdir(parents=True)
    shutil.copyfile(source_video, tmp_path / "videos" / "0007" / "42.mp4")
    (tmp_path / "map.json").write_text(json.dumps({"42": "0007/42"}), encoding="utf-8")
    folders = str(tmp_path / "ann"), str(tmp_path / "videos")
    datamodule = NExTQA(*folders, video_map=str(tmp_path / "map.json"), num_frames=4, frame_size=SIZE)
    datamodule.setup("validate")
    assert datamodule.datasets["val"][0]["frame_indices"].tolist() == [2, 7, 12, 17]


def test_datamodule_rejects_records_with_more_options_than_the_benchmark(tmp_path: Path, source_video: Path) -> None:
    records = [QARecord("Interaction_T1_1", "v1", "why?", tuple("abcde"), 0, 0.0, 1.0, "Interaction")]
    _write_split(tmp_path, STAR, source_video, records)
    with pytest.raises(SevilaError, match="Interaction_T1_1 has 5 options but star questions have 4"):
        STAR(str(tmp_path / "ann"), str(tmp_path / "videos")).setup("fit")


def test_epoch_sampler_reshuffles_each_epoch_reproducibly() -> None:
    sampler = EpochSampler(50, shuffle=True, seed=1)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first and {epoch for epoch, _ in second} == {1}
    assert [index for _, index in first] != [index for _, index in second]
    assert sorted(index for _, index in second) == list(range(50))


def test_datamodule_persistent_worker_follows_the_sampler_epoch(tmp_path: Path, source_video: Path) -> None:
    in_process = _datamodule(How2QA, tmp_path, source_video, batch_size=3)
    with_worker = _datamodule(How2QA, tmp_path, source_video, batch_size=3, num_workers=1)
    draws = []
    for datamodule in (in_process, with_worker):
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
        epochs = []
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            epochs.append(next(iter(loader))["frames"])
        draws.append(epochs)
    assert not torch.equal(draws[1][0], draws[1][1])  # the worker's copy saw epoch 1
    assert torch.equal(draws[0][1], draws[1][1])  # and drew exactly what the main process draws


class _RecordFrames(L.LightningModule):
    """The smallest trainable module: remembers which frames each epoch's batches held."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[dict[str, list[int]]] = []

    def on_train_epoch_start(self) -> None:
        self.seen.append({})

    def training_step(self, batch: QABatch, batch_idx: int) -> torch.Tensor:
        for qid, indices in zip(batch["qid"], batch["frame_indices"].tolist()):
            self.seen[-1][qid] = indices
        return (self.weight * batch["frames"].mean()).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_datamodule_under_trainer_fit_redraws_frames_each_epoch(tmp_path: Path, source_video: Path) -> None:
    datamodule = _datamodule(STAR, tmp_path, source_video)
    model = _RecordFrames()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=datamodule)
    dataset = datamodule.datasets["train"]
    assert len(model.seen) == 2 and model.seen[0] != model.seen[1]
    # the last partial batch is dropped, as the original's training loader does: 3 records -> one batch of 2
    assert [len(epoch) for epoch in model.seen] == [len(dataset.records) // BATCH * BATCH] * 2
    expected = {r.qid: dataset[(1, i)]["frame_indices"].tolist() for i, r in enumerate(dataset.records)}
    assert model.seen[1] == {qid: expected[qid] for qid in model.seen[1]}



def test_crop_resize_changes_only_the_training_crops(tmp_path: Path, source_video: Path) -> None:
    batches = {}
    for mode in ("smooth", "official"):
        datamodule = _datamodule(STAR, tmp_path, source_video, crop_resize=mode)
        datamodule.setup("fit")
        batches[mode] = next(iter(datamodule.train_dataloader())), next(iter(datamodule.val_dataloader()))
    (smooth_train, smooth_val), (official_train, official_val) = batches["smooth"], batches["official"]
    assert torch.equal(smooth_train["frame_indices"], official_train["frame_indices"])  # the same draws
    assert not torch.equal(smooth_train["frames"], official_train["frames"])  # another resize kernel
    assert torch.equal(smooth_val["frames"], official_val["frames"])  # evaluation frames are not cropped


def test_datamodule_rejects_an_unknown_crop_resize(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match="--data.crop_resize is 'bilinear'; expected one of smooth, official"):
        STAR(str(tmp_path), str(tmp_path), crop_resize="bilinear")


def test_set_frame_counts_applies_to_datasets_already_built(tmp_path: Path, source_video: Path) -> None:
    datamodule = _datamodule(STAR, tmp_path, source_video, num_frames=4, eval_num_frames=6)
    datamodule.setup("fit")
    datamodule.set_frame_counts(2, 3)
    train, val = next(iter(datamodule.train_dataloader())), next(iter(datamodule.val_dataloader()))
    assert (train["frames"].shape[1], val["frames"].shape[1]) == (2, 3)
    assert (datamodule.num_frames, datamodule.eval_num_frames) == (4, 6)  # the configured counts stay
    datamodule.set_frame_counts(4, 6)  # the next run's stage sets its own counts again
    assert next(iter(datamodule.val_dataloader()))["frames"].shape[1] == 6
    with pytest.raises(SevilaError, match="--data.eval_num_frames is 0"):
        datamodule.set_frame_counts(2, 0)
