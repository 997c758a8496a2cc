"""Every stage YAML parses with every profile and the data files it is used with (as the Makefile composes them)."""

from __future__ import annotations

import pytest
import yaml
from stage_runner import STAGES

from sevila.benchmarks import BENCHMARKS
from sevila.cli import main as sevila_main

QA_DATA = ["nextqa", "star", "how2qa", "tvqa", "vlep", "demo_qa", "custom"]
COMBINATIONS = [("pretrain_localizer", "qvhighlights"), ("pretrain_localizer", "demo_moments")] + [
    (stage, data) for stage in ("finetune_answerer", "refine_localizer", "evaluate") for data in QA_DATA
] + [("evaluate", "nextgqa")]  # NExT-GQA has no training split


def recipe_configs(stage: str, data: str) -> list[str]:
    """`-c` of the stage's recipe for that dataset, when there is one (as the Makefile layers it)."""
    recipe = STAGES / "recipes" / stage / f"{data}.yaml"
    return ["-c", str(recipe)] if recipe.is_file() else []


@pytest.mark.parametrize("profile", ["demo", "paper"])
@pytest.mark.parametrize(("stage", "data"), COMBINATIONS)
def test_config_parses(stage, data, profile, capsys):
    verb = "test" if stage == "evaluate" else "fit"
    args = [verb, "-c", str(STAGES / "data" / f"{data}.yaml"), "-c", str(STAGES / f"{stage}.yaml"),
            *recipe_configs(stage, data), "-c", str(STAGES / "profiles" / f"{profile}.yaml"), "--print_config"]
    with pytest.raises(SystemExit) as exit_info:
        sevila_main(args)
    assert exit_info.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"].startswith("sevila.stages.")
    assert config["data"]["class_path"].startswith(("sevila.data.datamodules.", "sevila.data.custom_datamodule."))


def test_config_every_yaml_file_is_covered():
    stage_files = {p.stem for p in STAGES.glob("*.yaml")}
    data_files = {p.stem for p in (STAGES / "data").glob("*.yaml")}
    assert stage_files == {stage for stage, _ in COMBINATIONS}
    assert data_files == {data for _, data in COMBINATIONS}
    assert {p.stem for p in (STAGES / "profiles").glob("*.yaml")} == {"demo", "paper"}
    recipes = {(p.parent.name, p.stem) for p in (STAGES / "recipes").glob("*/*.yaml")}
    # every training stage on an official benchmark has its recipe, and so has each of the demo's; your own data none
    official = {(stage, data) for stage, data in COMBINATIONS if stage != "evaluate" and data in BENCHMARKS}
    demo = {("pretrain_localizer", "demo_moments"), ("finetune_answerer", "demo_qa"), ("refine_localizer", "demo_qa")}
    assert recipes == official - {(stage, "custom") for stage in ("finetune_answerer", "refine_localizer")} | demo


def test_config_unknown_key_is_refused(capsys):
    args = ["fit", "-c", str(STAGES / "data" / "star.yaml"), "-c", str(STAGES / "finetune_answerer.yaml"),
            "--model.init_args.learning_rate=1", "--print_config"]
    assert sevila_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Option 'learning_rate' is not accepted" in err


def _resolved(stage: str, data: str, profile: str, capsys) -> dict:
    verb = "test" if stage == "evaluate" else "fit"
    args = [verb, "-c", str(STAGES / "data" / f"{data}.yaml"), "-c", str(STAGES / f"{stage}.yaml"),
            "-c", str(STAGES / "profiles" / f"{profile}.yaml"), "--print_config"]
    with pytest.raises(SystemExit):
        sevila_main(args)
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize(("profile", "random_frames", "dropout", "crop"),
                         [("paper", True, "all", "official"), ("demo", False, "none", "smooth")])
def test_config_refinement_frames_dropout_and_crops_per_profile(profile, random_frames, dropout, crop, capsys):
    # The paper profile: stage 3 draws random frames and crops every step, with dropout in the frozen Answerer.
    config = _resolved("refine_localizer", "nextqa" if profile == "paper" else "demo_qa", profile, capsys)
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert (data["random_train_frames"], model["dropout"], data["crop_resize"]) == (random_frames, dropout, crop)
    assert model["readout"] == "official"
