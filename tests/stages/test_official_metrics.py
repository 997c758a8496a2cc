"""`sevila test` writes the benchmark's official table into metrics.json: equal to `sevila metrics` on its predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from stage_runner import run_stage, write_overlay
from video_factory import write_indexed_video

from sevila.benchmarks import BENCHMARKS
from sevila.data.video_paths import video_path
from sevila.cli import main as sevila_main
from sevila.demo.benchmark import SyntheticSettings, generate_benchmark

# Per benchmark: (qid, video name as the record holds it, has a [start, end] span).
QUESTIONS = {
    "nextqa": [("CW_0001_0", "0001/v0", False), ("TN_0001_1", "0001/v0", False), ("DO_0002_0", "0002/v1", False),
               ("TP_0002_1", "0002/v1", False)],
    "star": [(f"{category}_T{i}_{i}", f"v{i % 2}", True)
             for i, category in enumerate(("Interaction", "Sequence", "Prediction", "Feasibility"))],
    "how2qa": [(f"HOW2QA_{i}", f"v{i % 2}", True) for i in range(3)],
    "tvqa": [(f"TVQA_{i}", f"friends_s01e0{i % 2}_seg02_clip_00", i != 0) for i in range(3)],
    "vlep": [(f"VLEP_{i}", f"friends_s01e0{i % 2}_seg02_clip_00_ep", True) for i in range(3)],
    "demo": [(f"{kind}_v{i}_{i}", f"v{i % 2}", False) for i, kind in enumerate(("Color", "Shape", "Color"))],
    "nextgqa": [("CW_0001_0", "0001/v0", False), ("TC_0001_1", "0001/v0", False), ("DO_0002_0", "0002/v1", False)],
}
# NExT-GQA evidence windows (seconds of the 3 s videos): one, two and one windows.
WINDOWS = {"CW_0001_0": [[0.5, 1.5]], "TC_0001_1": [[0.0, 0.4], [2.0, 3.0]], "DO_0002_0": [[1.0, 2.9]]}
SUBMISSIONS = {"nextqa": "submission_nextqa.json", "vlep": "submission_vlep.jsonl"}


def _record(name: str, qid: str, video: str, span: bool, answer: int) -> dict:
    count = BENCHMARKS[name].num_options
    record = {"video": video, "qid": qid, "question": "" if name == "vlep" else "what is the color",
              "num_option": count, **{f"a{i}": f"option {i}" for i in range(count)}, "answer": answer % count}
    if name == "nextgqa":
        record.update(duration=3.0, windows=WINDOWS[qid])
    return {**record, "start": 0.5, "end": 2.5} if span else record


def _benchmark(root: Path, name: str, source: Path) -> Path:
    """qa/val.json of `name` and its videos where the benchmark's layout puts them."""
    rows = [_record(name, qid, video, span, i) for i, (qid, video, span) in enumerate(QUESTIONS[name])]
    (root / "qa").mkdir(parents=True)
    (root / "qa" / "val.json").write_text(json.dumps(rows))
    for row in rows:
        target = video_path(name, root / "videos", row["video"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


@pytest.fixture(scope="module")
def source_video(tmp_path_factory) -> Path:
    return write_indexed_video(tmp_path_factory.mktemp("video") / "v.mp4", num_frames=24, fps=8, size=(48, 48))


def _official(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert sevila_main(["metrics", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_metrics_json_equals_sevila_metrics_on_the_same_predictions(
    name, tmp_path, tiny_backbone_dir, source_video, capsys
):
    root = _benchmark(tmp_path / "bench", name, source_video)
    out = tmp_path / "results"
    data = {"video_map": None} if name == "nextqa" else {}  # the records hold folder/id already
    overlay = write_overlay(tmp_path / "eval.yaml", tiny_backbone_dir, root, "qa", model={"output_dir": str(out)},
                            data=data, trainer={"default_root_dir": str(out)})
    assert run_stage("test", "evaluate", "demo_qa" if name == "demo" else name, overlay) == 0
    written = json.loads((out / "metrics.json").read_text())
    extra = ["--annotations", str(root / "qa" / "val.json")] if name == "nextgqa" else []
    printed = _official(capsys, name, "--predictions", str(out / "predictions.json"), *extra)
    if name == "nextgqa":  # the official files read back give the same numbers
        official = _official(capsys, name, "--predictions", str(out / "nextgqa_ground.json"), "--answers",
                             str(out / "nextgqa_res.json"), *extra)
        assert official == printed and set(json.loads((out / "nextgqa_ground.json").read_text())) == {
            "0001_0", "0001_1", "0002_0"}
        assert (printed["missing_predictions"], printed["unmatched_predictions"]) == (0, 0)
    table = {key: value for key, value in printed.items() if name == "nextgqa" or not key.endswith("_predictions")}
    assert {key: written[key] for key in table} == table
    assert printed["num_evaluated"] == len(QUESTIONS[name])
    assert set(written) - set(table) == {"skipped_videos", "selection", "aggregation", "grounding", "readout", "zero_shot"}
    rows = json.loads((out / "predictions.json").read_text())
    assert all(len(row["window"]) == 2 and 0 <= row["window"][0] <= row["window"][1] <= 3.0 for row in rows)
    headline = BENCHMARKS[name].headline
    assert headline in written and 0 <= written[headline] <= 100
    if name == "nextqa":  # groups C/T/D and fine types with TP counted in TN, as the official table
        assert {"Acc_C", "Acc_T", "Acc_D", "Acc_CW", "Acc_TN", "Acc_DO"} <= set(written) and "Acc_TP" not in written
    if name in SUBMISSIONS:  # the official submission, as `sevila metrics --export` writes it
        exported = tmp_path / "exported"
        _official(capsys, name, "--predictions", str(out / "predictions.json"), "--export", str(exported))
        assert (out / SUBMISSIONS[name]).read_text() == exported.read_text()
    else:
        assert not list(out.glob("submission_*"))


def test_count_world_metrics_json_equals_sevila_metrics_with_acc_count(tmp_path, tiny_backbone_dir, capsys):
    settings = SyntheticSettings(num_train_videos=1, num_val_videos=3, num_moment_videos=1, num_moment_val_videos=1,
                                 size=32, variant="count")
    root = generate_benchmark(tmp_path / "count", settings).root
    out = tmp_path / "results"
    overlay = write_overlay(tmp_path / "eval.yaml", tiny_backbone_dir, root, "qa", model={"output_dir": str(out)},
                            trainer={"default_root_dir": str(out)})
    assert run_stage("test", "evaluate", "demo_qa", overlay) == 0
    written = json.loads((out / "metrics.json").read_text())
    printed = _official(capsys, "demo", "--predictions", str(out / "predictions.json"))
    rows = json.loads((out / "predictions.json").read_text())
    assert sorted(row["qid"] for row in rows) == ["Count_val0000_0", "Count_val0001_0", "Count_val0002_0"]
    correct = sum(row["prediction"] == row["target"] for row in rows)
    table = {key: value for key, value in printed.items() if not key.endswith("_predictions")}
    assert table == {"num_evaluated": 3, "Acc": round(100 * correct / 3, 2), "Acc_Count": round(100 * correct / 3, 2)}
    assert {key: written[key] for key in table} == table


def test_moment_metrics_json_equals_sevila_metrics(tmp_path, tiny_backbone_dir, tiny_benchmark, capsys):
    out = tmp_path / "qvh"
    overlay = write_overlay(tmp_path / "qvh.yaml", tiny_backbone_dir, tiny_benchmark, "moments",
                            model={"output_dir": str(out)}, data={"test_file": "val.json"},
                            trainer={"default_root_dir": str(out)})
    assert run_stage("test", "pretrain_localizer", "demo_moments", overlay) == 0
    written = json.loads((out / "metrics.json").read_text())
    printed = _official(capsys, "qvhighlights", "--predictions", str(out / "moments.jsonl"),
                        "--annotations", str(tiny_benchmark / "moments" / "val.json"))
    assert (printed["unmatched_predictions"], printed["missing_predictions"]) == (0, 0)
    table = {key: value for key, value in printed.items() if not key.endswith("_predictions")}
    assert {key: written[key] for key in table} == table


def test_evaluate_stops_before_decoding_when_the_split_cannot_fill_the_table(
    tmp_path, tiny_backbone_dir, source_video, capsys
):
    root = _benchmark(tmp_path / "bench", "star", source_video)
    rows = json.loads((root / "qa" / "val.json").read_text())
    (root / "qa" / "val.json").write_text(json.dumps([r for r in rows if not r["qid"].startswith("Feasibility")]))
    overlay = write_overlay(tmp_path / "eval.yaml", tiny_backbone_dir, root, "qa",
                            model={"output_dir": str(tmp_path / "out")}, trainer={"default_root_dir": str(tmp_path)})
    assert run_stage("test", "evaluate", "star", overlay) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (f"sevila test: error: {root / 'qa' / 'val.json'}: the STAR mean needs all four "
                                    "categories; no question of Feasibility")
    assert not (tmp_path / "out" / "predictions.json").exists()


def test_evaluate_grounds_with_the_chosen_rule(tmp_path, tiny_backbone_dir, source_video):
    root = _benchmark(tmp_path / "bench", "nextgqa", source_video)
    windows = {}
    for rule in ("keyframes", "run"):
        out = tmp_path / rule
        overlay = write_overlay(tmp_path / f"{rule}.yaml", tiny_backbone_dir, root, "qa",
                                model={"output_dir": str(out), "grounding": rule}, data={"video_map": None},
                                trainer={"default_root_dir": str(out)})
        assert run_stage("test", "evaluate", "nextgqa", overlay) == 0
        assert json.loads((out / "metrics.json").read_text())["grounding"] == rule
        windows[rule] = {row["qid"]: row["window"] for row in json.loads((out / "predictions.json").read_text())}
    times = [round(i / 8, 2) for i in (3, 9, 15, 21)]  # the 4 segment midpoints of 24 frames at 8 fps (k = 2)
    for qid, (start, end) in windows["keyframes"].items():
        assert start in times and end in times and start < end, qid  # first and last keyframe's times
    for qid, (start, end) in windows["run"].items():  # a run covers whole steps between candidates
        assert 0.0 <= start < end, qid
