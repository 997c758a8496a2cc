"""Each stage x dataset, composed as the Makefile composes the paper profile, states the official recipe."""

from __future__ import annotations

import pytest
import yaml
from stage_runner import STAGES
from test_configs import recipe_configs

from sevila.cli import main as sevila_main
from sevila.stages.global_batch import plan_batch

# (GPUs, per-GPU batch, accumulation, lr, warm-up iterations, epochs): the official run scripts at
# Yui010206/SeViLA@419e728 where they exist (QVHighlights, NExT-QA), else the paper's Table 11 on its 4 GPUs
# ("64" per GPU for pre-training and refinement is the scripts' total: 4 x 16). recipe.md §1.
OFFICIAL = {
    ("pretrain_localizer", "qvhighlights"): (4, 16, 1, 3e-5, 1000, 80),  # pretrain_qvh.sh:4,10,12-15
    ("finetune_answerer", "nextqa"): (4, 8, 2, 3e-5, 1000, 10),  # nexqa_ft.sh:6,12,14-17
    ("finetune_answerer", "star"): (4, 8, 2, 3e-5, 1000, 10),
    ("finetune_answerer", "how2qa"): (4, 4, 4, 3e-5, 3000, 10),
    ("finetune_answerer", "tvqa"): (4, 4, 4, 3e-5, 8000, 10),
    ("finetune_answerer", "vlep"): (4, 4, 4, 1e-5, 1200, 10),
    ("refine_localizer", "nextqa"): (4, 16, 1, 3e-5, 500, 10),  # nexqa_sr.sh:6,12,14-17
    ("refine_localizer", "star"): (4, 16, 1, 3e-5, 500, 10),
    ("refine_localizer", "how2qa"): (4, 16, 1, 3e-5, 500, 10),
    ("refine_localizer", "tvqa"): (4, 16, 1, 3e-5, 2000, 10),
    ("refine_localizer", "vlep"): (4, 16, 1, 3e-5, 500, 10),
}
# (training frames n, evaluation frames, keyframes k) per stage in the scripts (recipe.md, fact 12)
FRAMES = {"pretrain_localizer": (4, 75, None), "finetune_answerer": (32, 32, 4), "refine_localizer": (4, 32, 4)}


def paper_config(stage: str, data: str, capsys: pytest.CaptureFixture[str]) -> dict:
    args = ["fit", "-c", str(STAGES / "data" / f"{data}.yaml"), "-c", str(STAGES / f"{stage}.yaml"),
            *recipe_configs(stage, data), "-c", str(STAGES / "profiles" / "paper.yaml"), "--print_config"]
    with pytest.raises(SystemExit):
        sevila_main(args)
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize(("stage", "data"), sorted(OFFICIAL))
def test_recipe_paper_profile_states_the_official_recipe(stage, data, capsys):
    gpus, per_gpu, accumulation, lr, warmup, epochs = OFFICIAL[stage, data]
    config = paper_config(stage, data, capsys)
    model = config["model"]["init_args"]
    assert model["global_batch_size"] == gpus * per_gpu * accumulation == 64
    plan = plan_batch(model["global_batch_size"], gpus, model["max_device_batch_size"])
    assert (plan.device_batch, plan.accumulation) == (per_gpu, accumulation)  # on the official 4 GPUs: the same split
    assert model["recipe_accumulation"] == accumulation
    assert (model["lr"], model["warmup_steps"], model["warmup_start_lr"], model["min_lr"]) == (lr, warmup, 1e-8, 0.0)
    assert (model["weight_decay"], model["betas"], model["lr_schedule"]) == (0.05, [0.9, 0.999], "official")
    assert config["trainer"]["max_epochs"] == epochs
    assert "sevila.stages.selection.BestEpoch" in [c["class_path"] for c in config["trainer"]["callbacks"]]
    data_args = config["data"]["init_args"]
    train_frames, eval_frames, keyframes = FRAMES[stage]
    evaluated = data_args["eval_num_frames"] or data_args["num_frames"]  # none = num_frames (ClipDataModule)
    assert (data_args["num_frames"], evaluated) == (train_frames, eval_frames)
    assert keyframes is None or model["num_keyframes"] == keyframes
