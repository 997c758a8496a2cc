"""`sevila test` of the evaluate stage in the experiment modes: vote / oracle read-outs, all frames, n -> k cells."""

from __future__ import annotations

import json

import pytest
from stage_runner import run_stage, write_overlay


def _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, *flags: str, model: dict | None = None,
              data: dict | None = None) -> int:
    tmp_path.mkdir(parents=True, exist_ok=True)
    overlay = write_overlay(tmp_path / "overlay.yaml", tiny_backbone_dir, tiny_benchmark, "qa",
                            model={"output_dir": str(tmp_path / "results"), **(model or {})}, data=data,
                            trainer={"default_root_dir": str(tmp_path / "results")})
    return run_stage("test", "evaluate", "demo_qa", overlay, *flags)


def _results(tmp_path) -> tuple[dict, list[dict]]:
    folder = tmp_path / "results"
    return json.loads((folder / "metrics.json").read_text()), json.loads((folder / "predictions.json").read_text())


@pytest.mark.parametrize("aggregation", ["vote", "oracle"])
def test_evaluate_reads_out_by_vote_or_oracle(tmp_path, tiny_backbone_dir, tiny_benchmark, aggregation):
    assert _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, "--model.init_args.aggregation", aggregation) == 0
    metrics, predictions = _results(tmp_path)
    assert metrics["aggregation"] == aggregation and metrics["selection"] == "localizer"
    assert metrics["num_evaluated"] == 2 and 0 <= metrics["Acc"] <= 100
    assert all(len(row["frame_idx"]) == 2 for row in predictions)  # k = 2 keyframes of the n = 4


def test_evaluate_oracle_accuracy_is_never_below_the_vote(tmp_path, tiny_backbone_dir, tiny_benchmark):
    # Never below the vote: the vote's winner is some keyframe's own answer.
    assert _evaluate(tmp_path / "vote", tiny_backbone_dir, tiny_benchmark, "--model.init_args.aggregation", "vote") == 0
    assert _evaluate(tmp_path / "oracle", tiny_backbone_dir, tiny_benchmark,
                     "--model.init_args.aggregation", "oracle") == 0
    vote, _ = _results(tmp_path / "vote")
    oracle, _ = _results(tmp_path / "oracle")
    assert oracle["Acc"] >= vote["Acc"]


def test_evaluate_all_selection_reads_every_frame(tmp_path, tiny_backbone_dir, tiny_benchmark):
    # k = n whatever model.num_keyframes says (8 here, more than the 6 frames: not an error for `all`)
    assert _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, "--model.init_args.selection", "all",
                     model={"num_keyframes": 8}, data={"eval_num_frames": 6}) == 0
    metrics, predictions = _results(tmp_path)
    assert metrics["selection"] == "all" and metrics["aggregation"] == "concat"
    # 6 segment midpoints of the 24-frame clips: bounds linspace(0, 24, 7) -> 2, 6, ..., 22
    assert [row["frame_idx"] for row in predictions] == [[2, 6, 10, 14, 18, 22]] * 2


@pytest.mark.parametrize(("n", "k"), [(16, 1), (64, 8)])
def test_evaluate_runs_odd_n_to_k_cells(tmp_path, tiny_backbone_dir, tiny_benchmark, n, k):
    assert _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, "--data.init_args.eval_num_frames", str(n),
                     "--model.init_args.num_keyframes", str(k)) == 0
    metrics, predictions = _results(tmp_path)
    assert metrics["num_evaluated"] == 2
    for row in predictions:
        assert len(row["frame_idx"]) == k and row["frame_idx"] == sorted(row["frame_idx"])
        assert all(0 <= index < 24 for index in row["frame_idx"])


def test_evaluate_k_above_n_stops_with_one_line(tmp_path, tiny_backbone_dir, tiny_benchmark, capsys):
    code = _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, "--data.init_args.eval_num_frames", "4",
                     "--model.init_args.num_keyframes", "8")
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "sevila test: error: model.num_keyframes is 8 but data.eval_num_frames is 4: the keyframes are chosen among the 4 "
        "frames, so k <= n; lower --model.init_args.num_keyframes or raise --data.init_args.eval_num_frames"
    )
