"""Tests of the demo world's `count` variant: N vivid events per clip, where they are, and how many the answer says."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sevila import cli
from sevila.data.annotations import read_moment_annotations, read_qa_annotations
from sevila.data.video import probe_video, sample_frames, segment_indices
from sevila.demo.benchmark import BenchmarkFiles, SyntheticSettings, generate_benchmark
from sevila.demo.render import COLOURS
from sevila.demo.world import COUNT_GAP, COUNTS, plan_split

SETTINGS = SyntheticSettings(num_train_videos=3, num_val_videos=3, num_moment_videos=1, num_moment_val_videos=1,
                             seed=5, variant="count")
SATURATED = 125  # as tests/demo/test_world.py: a vivid pixel's channel max - min is >= 155, nothing else's above 95
# What the code before the variant existed (tag world18) wrote for these settings: the default world must not move.
DEFAULT = SyntheticSettings(num_train_videos=2, num_val_videos=2, num_moment_videos=1, num_moment_val_videos=1, seed=5)
DEFAULT_ANNOTATIONS_SHA256 = "6608eccd9f36f29e540cf521633b137561caae76cab625bc0ab3e201851121f6"
DEFAULT_MARKER = {"version": 5, "settings": {
    "num_train_videos": 2, "num_val_videos": 2, "num_moment_videos": 1, "num_moment_val_videos": 1, "size": 64,
    "fps": 8, "min_seconds": 6, "max_seconds": 10, "event_frames": [4, 8], "seed": 5}}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkFiles:
    return generate_benchmark(tmp_path_factory.mktemp("count"), SETTINGS)


def _annotation_files(files: BenchmarkFiles) -> list[Path]:
    return [*files.qa.values(), *files.moments.values(), files.raw_csv, files.raw_video_map, files.event_windows,
            files.marker]


def _nearest_colour(pixels: np.ndarray) -> str:
    """The palette colour nearest the mean of (3, N) vivid pixels."""
    palette = np.array(list(COLOURS.values()), dtype=float)
    return list(COLOURS)[int(np.argmin(((palette - pixels.mean(axis=1)) ** 2).sum(axis=1)))]


def test_count_clips_show_vivid_colour_exactly_inside_each_listed_window(bench: BenchmarkFiles) -> None:
    windows = json.loads(bench.event_windows.read_text())
    plans = {plan.name: plan for split in ("train", "val") for plan in plan_split(SETTINGS, split)}
    assert windows == {name: plan.windows() for name, plan in plans.items()}
    assert max(map(len, windows.values())) > 1, windows
    for video, events in windows.items():
        path = bench.video(video)
        clip = sample_frames(path, probe_video(path).num_frames, size=SETTINGS.size)
        frames = clip.frames.numpy().astype(int)  # (T, 3, H, W)
        vivid = (frames.max(axis=1) - frames.min(axis=1)) > SATURATED  # (T, H, W)
        inside = np.zeros(len(frames), dtype=bool)
        for (first, last), event in zip(events, plans[video].events, strict=True):
            inside[first : last + 1] = True
            for index in range(first, last + 1):  # each event shows its own colour
                assert _nearest_colour(frames[index][:, vivid[index]]) == event.scene.colour, (video, index)
        share = vivid.mean(axis=(1, 2))
        assert share[inside].min() > 0.04, (video, share.round(3).tolist())
        assert share[~inside].max() < 0.002, (video, share.round(3).tolist())


def test_count_question_answer_names_the_number_of_windows(bench: BenchmarkFiles) -> None:
    windows = json.loads(bench.event_windows.read_text())
    for split in ("train", "val"):
        records = read_qa_annotations(bench.qa[split])
        assert [record.qid for record in records] == [f"Count_{split}{i:04d}_0" for i in range(3)]
        for record in records:
            assert record.question == "how many vivid shapes appear?" and record.qtype == "Count"
            assert sorted(record.options) == sorted(f"{word}." for word in COUNTS)
            assert record.options[record.answer] == f"{COUNTS[len(windows[record.video]) - 1]}.", record.qid


def test_count_benchmark_keeps_the_default_moment_clips(bench: BenchmarkFiles, tmp_path: Path) -> None:
    event = generate_benchmark(tmp_path, replace(SETTINGS, variant="event"))
    for split in ("train", "val"):
        assert bench.moments[split].read_bytes() == event.moments[split].read_bytes()
        for record in read_moment_annotations(bench.moments[split]):
            assert bench.video(record.video).read_bytes() == event.video(record.video).read_bytes(), record.video
    assert json.loads(bench.marker.read_text())["settings"]["variant"] == "count"


def test_count_plans_space_their_events_and_cover_every_count() -> None:
    settings = SyntheticSettings(num_train_videos=40, num_val_videos=1, variant="count")
    plans, default = plan_split(settings, "train"), plan_split(SyntheticSettings(num_train_videos=40), "train")
    counts = [len(plan.events) for plan in plans]
    assert sorted(set(counts)) == [1, 2, 3, 4]
    for plan, same in zip(plans, default, strict=True):
        assert (plan.num_frames, plan.fps) == (same.num_frames, same.fps)  # clip lengths as the default world's
        assert plan.events[0].first >= 0 and plan.events[-1].last < plan.num_frames
        assert all(4 <= event.last - event.first + 1 <= 8 for event in plan.events), plan.windows()
        gaps = [b.first - a.last - 1 for a, b in zip(plan.events, plan.events[1:])]
        assert all(gap >= COUNT_GAP for gap in gaps), (plan.name, plan.windows())
        # one pale shape for the whole clip, showing none of the events' hues or kinds
        pale = {(e.scene.seed, e.scene.distractor_hue, e.scene.distractor_shape) for e in plan.events}
        assert len(pale) == 1 and plan.scene.distractor_hue not in {e.scene.colour for e in plan.events}, plan.name
        assert plan.scene.distractor_shape not in {e.scene.shape for e in plan.events}, plan.name
        [question] = plan.questions
        assert sorted(question.options) == sorted(COUNTS) and question.text == "how many vivid shapes appear"
        assert question.options[question.answer] == COUNTS[len(plan.events) - 1], plan.name


def test_count_val_events_seen_by_4_and_by_32_uniform_frames_as_the_readme_says() -> None:
    plans = plan_split(SyntheticSettings(variant="count"), "val")
    assert Counter(len(plan.events) for plan in plans) == {1: 33, 2: 23, 3: 34, 4: 30}
    seen = {}
    for frames in (4, 32):
        picks = {plan.name: segment_indices(0, plan.num_frames, frames) for plan in plans}
        seen[frames] = sum(all(any(e.first <= f <= e.last for f in picks[plan.name]) for e in plan.events)
                           for plan in plans)
        apart = [all(any(a.last < f < b.first for f in picks[plan.name]) for a, b in zip(plan.events, plan.events[1:]))
                 for plan in plans]
    assert seen == {4: 23, 32: 120} and all(apart)  # `apart` of the 32 frames: a pale frame between any two events


def test_default_variant_writes_what_it_wrote_before_the_variant_existed(tmp_path: Path) -> None:
    files = generate_benchmark(tmp_path, DEFAULT)
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in _annotation_files(files))).hexdigest()
    assert json.loads(files.marker.read_text()) == DEFAULT_MARKER
    assert digest == DEFAULT_ANNOTATIONS_SHA256


def test_synthetic_settings_refuse_a_count_world_whose_events_cannot_fit() -> None:
    with pytest.raises(ValueError, match=r"event_frames is \(4, 12\); expected 4 events .* \(48 frames\)"):
        SyntheticSettings(event_frames=(4, 12), variant="count")
    assert SyntheticSettings(event_frames=(4, 12)).variant == "event"  # one event of 12 frames fits
    with pytest.raises(ValueError, match=r"variant \(--variant\) is 'bogus'; expected one of event, count"):
        SyntheticSettings(variant="bogus")


def test_demo_data_cli_refuses_an_unknown_variant_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["demo-data", "--output", str(tmp_path / "out"), "--variant", "bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "argument --variant: invalid choice: 'bogus' (choose from 'event', 'count')" in err, err
    assert not (tmp_path / "out").exists()
