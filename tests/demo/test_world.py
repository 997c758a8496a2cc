"""Tests of the synthetic demo benchmark: determinism, where the colour is, formats, raw NExT-QA round trip."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
import torch

from sevila import cli
from sevila.demo import data_cli
from sevila.data.annotations import read_moment_annotations, read_qa_annotations
from sevila.data.datasets import frame_labels
from sevila.demo.benchmark import BenchmarkFiles, SyntheticSettings, frame_examples, generate_benchmark, vocabulary
from sevila.demo.render import COLOURS, SHAPES, shape_mask
from sevila.demo.world import MOMENT_SHARE, PRESENCE, plan_moments, plan_split
from sevila.data.video import probe_video, sample_frames
from sevila.errors import SevilaError

SETTINGS = SyntheticSettings(num_train_videos=3, num_val_videos=2, num_moment_videos=2, num_moment_val_videos=1, seed=5)
SATURATED = 125  # channel max - min of a vivid pixel (>= 155); the pale distractor (<= 95), grey noise and h264 stay below
TINTED = 30  # channel max - min of a pale distractor pixel (>= 69); the noise is the same in all channels


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkFiles:
    return generate_benchmark(tmp_path_factory.mktemp("demo"), SETTINGS)


def _all_frames(path: Path) -> np.ndarray:
    """Every frame of a clip, decoded, as (T, 3, H, W) int."""
    clip = sample_frames(path, probe_video(path).num_frames, size=SETTINGS.size)
    assert clip.indices == list(range(len(clip.indices))), clip.indices
    return clip.frames.numpy().astype(int)


def _saturated_share(frames: np.ndarray) -> np.ndarray:
    """Per frame: the share of pixels that show colour."""
    return ((frames.max(axis=-3) - frames.min(axis=-3)) > SATURATED).mean(axis=(-2, -1))


def _windows(bench: BenchmarkFiles) -> dict[str, list[list[int]]]:
    """Every clip's event window: QA clips from event_windows.json, moment clips from their plans."""
    windows = json.loads(bench.event_windows.read_text())
    moments = {plan.name: [[plan.first, plan.last]] for split in ("train", "val") for plan in plan_moments(SETTINGS, split)}
    assert not windows.keys() & moments.keys()
    return windows | moments


def _annotation_files(bench: BenchmarkFiles) -> list[Path]:
    return [*bench.qa.values(), *bench.moments.values(), bench.raw_csv, bench.raw_video_map, bench.event_windows]


def test_generate_benchmark_is_deterministic_by_seed(bench: BenchmarkFiles, tmp_path: Path) -> None:
    again = generate_benchmark(tmp_path / "again", SETTINGS)
    for first, second in zip(_annotation_files(bench), _annotation_files(again)):
        assert first.read_bytes() == second.read_bytes(), first.name
    for video in _windows(bench):
        assert np.array_equal(_all_frames(bench.video(video)), _all_frames(again.video(video))), video


def test_generate_benchmark_colour_only_inside_event_window(bench: BenchmarkFiles) -> None:
    assert len(_windows(bench)) == 3 + 2 + 2 + 1  # QA train, QA val, moment train, moment val
    for video, [(first, last)] in _windows(bench).items():
        share = _saturated_share(_all_frames(bench.video(video)))
        inside = np.zeros(len(share), dtype=bool)
        inside[first : last + 1] = True
        assert share[inside].min() > 0.04, (video, share.round(3).tolist())
        assert share[~inside].max() < 0.002, (video, share.round(3).tolist())


def test_generate_benchmark_annotations_load_with_readers(bench: BenchmarkFiles) -> None:
    for split in ("train", "val"):
        qa = read_qa_annotations(bench.qa[split])
        moments = read_moment_annotations(bench.moments[split])
        assert {record.qtype for record in qa} == {"Color", "Shape"}
        assert all(len(set(record.options)) == len(record.options) == 5 for record in qa)
        assert len(moments) == (2 if split == "train" else 1)
        assert all(record.video.startswith(f"moments_{split}") for record in moments)
        # The Localizer's pre-training never sees a QA clip, so no QA event window is in any moment annotation.
        assert not {record.video for record in qa} & {record.video for record in moments}


def test_generate_benchmark_val_videos_disjoint_from_train(bench: BenchmarkFiles) -> None:
    train = {record.video for record in read_qa_annotations(bench.qa["train"])}
    val = {record.video for record in read_qa_annotations(bench.qa["val"])}
    assert len(train) == SETTINGS.num_train_videos and len(val) == SETTINGS.num_val_videos
    assert not train & val
    assert all(bench.video(video).is_file() for video in train | val)


def test_generate_benchmark_moment_window_labels_exactly_event_frames(bench: BenchmarkFiles) -> None:
    windows = _windows(bench)
    for split in ("train", "val"):
        for record in read_moment_annotations(bench.moments[split]):
            info = probe_video(bench.video(record.video))
            assert record.duration == pytest.approx(info.duration)
            labels = frame_labels(torch.arange(info.num_frames, dtype=torch.float64) / info.fps, record.windows)
            [(first, last)] = windows[record.video]
            assert torch.nonzero(labels).flatten().tolist() == list(range(first, last + 1)), record.qid


def test_generate_benchmark_answers_describe_the_event(bench: BenchmarkFiles) -> None:
    for split in ("train", "val"):
        scenes = {plan.name: plan.scene for plan in plan_split(SETTINGS, split)}
        for record in read_qa_annotations(bench.qa[split]):
            scene = scenes[record.video]
            expected = scene.colour if record.qtype == "Color" else scene.shape
            assert record.options[record.answer] == expected + ".", record.qid


def test_moment_queries_name_the_event_and_pale_shapes_often_share_its_hue_or_kind() -> None:
    plans = plan_moments(SyntheticSettings(num_moment_videos=60), "train")
    for plan in plans:
        assert plan.moment_record().query == f"a {plan.scene.colour} {plan.scene.shape} appears" and not plan.questions
    hues = [plan.scene.distractor_hue == plan.scene.colour for plan in plans]
    kinds = [plan.scene.distractor_shape == plan.scene.shape for plan in plans]
    # 60 clips at a share of 0.5: each count lies in 18..42 with probability > 0.999
    assert 18 <= sum(hues) <= 42 and 18 <= sum(kinds) <= 42 and MOMENT_SHARE == 0.5
    assert any(h and k for h, k in zip(hues, kinds)) and any(not h and not k for h, k in zip(hues, kinds))


def test_options_name_what_the_pale_shape_shows_as_a_wrong_answer() -> None:
    for plan in plan_split(SyntheticSettings(num_train_videos=20, num_val_videos=1), "train"):
        for question in plan.questions:
            seen = plan.scene.distractor_hue if question.qtype == "Color" else plan.scene.distractor_shape
            assert len(set(question.options)) == 5 and seen in question.options, plan.name
            assert question.options.index(seen) != question.answer, plan.name


def test_prepare_nextqa_reproduces_val_questions(bench: BenchmarkFiles, tmp_path: Path) -> None:
    output = tmp_path / "val.json"
    argv = ["prepare", "nextqa", "--input", str(bench.raw_csv), "--video-map", str(bench.raw_video_map)]
    assert cli.main([*argv, "--output", str(output)]) == 0
    assert json.loads(output.read_text()) == json.loads(bench.qa["val"].read_text())


def test_vocabulary_covers_every_annotation_word(bench: BenchmarkFiles) -> None:
    texts = [record.question + " " + " ".join(record.options) for record in read_qa_annotations(bench.qa["train"])]
    texts += [record.query for record in read_moment_annotations(bench.moments["train"])]
    texts += [PRESENCE.format(colour=colour, shape=shape) for colour in COLOURS for shape in SHAPES]
    words = {word.strip(string.punctuation) for text in texts for word in text.split()}
    assert words <= set(vocabulary()), words - set(vocabulary())


def test_generate_benchmark_skips_when_complete(bench: BenchmarkFiles) -> None:
    stamps = {path: path.stat().st_mtime_ns for path in [*bench.videos.iterdir(), *_annotation_files(bench)]}
    generate_benchmark(bench.root, SETTINGS)
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps


def test_generate_benchmark_regenerates_when_settings_change(tmp_path: Path) -> None:
    small = SyntheticSettings(num_train_videos=1, num_val_videos=1, seed=1)
    files = generate_benchmark(tmp_path, small)
    before = files.qa["val"].read_text()
    generate_benchmark(tmp_path, SyntheticSettings(num_train_videos=1, num_val_videos=1, seed=2))
    assert files.qa["val"].read_text() != before
    assert json.loads(files.marker.read_text())["settings"]["seed"] == 2


def test_plan_split_clip_depends_only_on_its_index() -> None:
    fewer = SyntheticSettings(num_train_videos=1, num_val_videos=1, seed=5)
    for split in ("train", "val"):
        assert plan_split(fewer, split) == plan_split(SETTINGS, split)[:1]


def test_frame_examples_labels_match_rendered_image() -> None:
    examples = frame_examples(SETTINGS, count=40, seed=3)
    assert {example.event for example in examples} == {True, False}
    palette = np.array(list(COLOURS.values()), dtype=float)
    for example in examples:
        image = example.image.numpy().astype(int)
        assert example.image.shape == (3, SETTINGS.size, SETTINGS.size) and example.image.dtype == torch.uint8
        coloured = (image.max(axis=0) - image.min(axis=0)) > SATURATED
        assert example.options[example.answer].rstrip(".") in (*COLOURS, *SHAPES)
        if not example.event:
            assert example.colour is None and not coloured.any()
            gold = example.options[example.answer].rstrip(".")
            assert gold not in (example.hue, example.shape)  # the pale shape never shows the answer
            assert _nearest_hue(image, (image.max(axis=0) - image.min(axis=0)) > TINTED) == example.hue
            continue
        mean = image[:, coloured].mean(axis=1)
        nearest = list(COLOURS)[int(np.argmin(((palette - mean) ** 2).sum(axis=1)))]
        assert (nearest, coloured.mean() > 0.04) == (example.colour, True)
        assert example.hue == example.colour


def _nearest_hue(image: np.ndarray, mask: np.ndarray) -> str:
    """The palette colour whose channel deviations from its own mean point the way the masked pixels' do."""
    chroma = image[:, mask] - image[:, mask].mean(axis=0)  # (3, N): the grey level and the noise cancel
    direction = chroma.mean(axis=1)
    palette = np.array(list(COLOURS.values()), dtype=float)
    palette -= palette.mean(axis=1, keepdims=True)
    cosine = palette @ direction / (np.linalg.norm(palette, axis=1) * np.linalg.norm(direction))
    return list(COLOURS)[int(np.argmax(cosine))]


def test_frame_examples_are_deterministic_by_seed() -> None:
    first, second = frame_examples(SETTINGS, 6, seed=9), frame_examples(SETTINGS, 6, seed=9)
    for a, b in zip(first, second):
        assert torch.equal(a.image, b.image) and (a.question, a.options, a.answer) == (b.question, b.options, b.answer)


def test_shape_mask_kinds_are_distinct() -> None:
    masks = {shape: shape_mask(shape, 32, (16.0, 16.0), 7.0) for shape in SHAPES}
    for a in SHAPES:
        for b in SHAPES[SHAPES.index(a) + 1 :]:
            overlap = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
            # Filled shapes of one size overlap a lot (circle/square ~0.8); the outline tells them apart.
            assert overlap < 0.85, (a, b, overlap)


def test_synthetic_settings_rejects_bad_count_naming_the_flag() -> None:
    with pytest.raises(ValueError, match="--train-videos"):
        SyntheticSettings(num_train_videos=0)


def test_demo_data_cli_writes_benchmark(tmp_path: Path) -> None:
    argv = ["--output", str(tmp_path), "--train-videos", "1", "--val-videos", "1", "--seed", "4", "--size", "32"]
    assert data_cli.main(argv) == 0
    assert BenchmarkFiles.at(tmp_path).marker.is_file()
    assert probe_video(BenchmarkFiles.at(tmp_path).video("val0000")).width == 32


def test_demo_data_cli_rejects_unknown_flag(tmp_path: Path) -> None:
    with pytest.raises(SevilaError, match="--frames"):
        data_cli.main(["--output", str(tmp_path), "--frames", "3"])
