"""Stage runs as commands: the config layers the Makefile uses, the flags it passes, and a folder per digest.

A stage run's folder is `<checkpoints>/experiments/stages/<stage>/<digest>/`, the digest taken over everything
that decides what the run computes: its configuration (the parsed layers: data, stage, recipe, profile, extra,
merged, then its settings, then the classes' defaults; so naming a value already in force changes nothing), the
backbone (a local folder by its files' contents: a rebuilt demo backbone trains afresh), the contents of the
annotation files, and the digests of the runs whose heads it starts from.
Two cells that need the same stage run therefore share its folder, and cells of other settings never do.
Where outputs go (folders, the feature cache, the export) is derived from the digest, never part of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sevila.errors import SevilaError
from sevila.experiments.settings_check import class_defaults
from sevila.experiments.spec import RunSpec
from sevila.pipeline import PROFILES
from sevila.stages.runs import file_digest

VERBS = {"pretrain_localizer": "fit", "finetune_answerer": "fit", "refine_localizer": "fit", "evaluate": "test"}
EXPORTS = {"pretrain_localizer": "localizer.safetensors", "finetune_answerer": "answerer.safetensors",
           "refine_localizer": "localizer_refined.safetensors"}
MOMENTS = {"demo": "demo_moments", "paper": "qvhighlights"}
BACKBONES = {name: profile.backbone for name, profile in PROFILES.items()}  # the Makefile's BACKBONE per profile
DATASETS = {"demo": "demo_qa", "paper": "nextqa"}
DEMO_DATA = {"demo_qa": "qa", "demo_moments": "moments"}  # the data YAMLs whose files --data-root replaces
SEED_BASE = 42  # the stage YAMLs' seed_everything: seed s runs with 42 + s, so seed 0 is the runs of today


@dataclass(frozen=True)
class Context:
    """Where and on what an experiment runs: the profile, the data, and the folders (defaults as the Makefile)."""

    profile: str
    dataset: str
    backbone: str
    stages: Path = Path("stages")
    checkpoints: Path = Path("checkpoints/demo")
    results: Path = Path("results/demo")
    extra_configs: tuple[Path, ...] = ()
    data_root: Path | None = None  # a demo world (`sevila demo-data --output DIR`) instead of data/demo
    seed: int | None = None  # --seeds: every run gets seed_everything 42 + seed

    @property
    def moments(self) -> str:
        """The moment data stage 1 trains on."""
        return MOMENTS[self.profile]

    @property
    def trained_on(self) -> str:
        """NExT-GQA is evaluation only: its questions are NExT-QA's, so it trains on NExT-QA (as the Makefile)."""
        return "nextqa" if self.dataset == "nextgqa" else self.dataset

    @property
    def feature_cache(self) -> Path:
        """The ViT feature cache every evaluation and refinement shares (the Makefile's CACHE)."""
        return self.checkpoints / "features"


@dataclass(frozen=True)
class StageRun:
    """One stage run: its command's config layers and flags, the runs it starts from, and its folder."""

    stage: str
    configs: tuple[Path, ...]
    settings: Mapping[str, Any]
    inputs: Mapping[str, "StageRun"]
    digest: str
    folder: Path
    backbone: str = field(compare=False, default="")
    tree: Mapping[str, Any] = field(compare=False, default_factory=dict)  # the merged layers and settings

    @property
    def verb(self) -> str:
        """`fit` for the training stages, `test` for the evaluation."""
        return VERBS[self.stage]

    @property
    def export(self) -> Path:
        """The heads a training stage writes (what later runs start from); metrics.json for the evaluation."""
        return self.folder / EXPORTS.get(self.stage, "metrics.json")

    def flags(self, feature_cache: Path) -> list[str]:
        """The flags after the config layers, as the Makefile passes them, then the run's own settings."""
        flags = [f"--model.init_args.backbone={self.backbone}"]
        flags += [f"--model.init_args.{key}={run.export}" for key, run in self.inputs.items()]
        if self.stage in ("refine_localizer", "evaluate"):
            flags.append(f"--model.init_args.feature_cache={feature_cache}")
        if self.verb == "fit":
            flags += ["--ckpt_path=last", f"--model.init_args.export_path={self.export}"]
        if self.stage == "refine_localizer":
            flags.append(f"--model.init_args.cache_dir={self.folder / 'pseudo_labels'}")
        if self.stage == "evaluate":
            flags.append(f"--model.init_args.output_dir={self.folder}")
        flags.append(f"--trainer.default_root_dir={self.folder}")
        return flags + [f"--{key}={flag_value(value)}" for key, value in self.settings.items()]

    def argv(self, feature_cache: Path) -> list[str]:
        """`fit|test -c ... --flags`: the arguments of `sevila`."""
        layers = [part for config in self.configs for part in ("-c", str(config))]
        return [self.verb, *layers, *self.flags(feature_cache)]


def flag_value(value: Any) -> str:
    """A setting as jsonargparse reads a flag: a plain string as it is (quotes would stay part of it), else JSON."""
    if isinstance(value, str) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value)


def data_of(context: Context, stage: str) -> str:
    """The data YAML a stage reads: the moments for stage 1, the dataset for the evaluation, else what it trains on."""
    if stage == "pretrain_localizer":
        return context.moments
    return context.dataset if stage == "evaluate" else context.trained_on


def context_settings(context: Context, data: str) -> dict[str, Any]:
    """The flags --data-root and --seeds add after the layers (none by default: today's digests stay)."""
    settings: dict[str, Any] = {}
    if context.data_root is not None and data in DEMO_DATA:
        settings["data.init_args.annotation_dir"] = str(context.data_root / DEMO_DATA[data])
        settings["data.init_args.video_dir"] = str(context.data_root / "videos")
    if context.seed is not None:
        settings["seed_everything"] = SEED_BASE + context.seed
    return settings


def layers(context: Context, stage: str) -> tuple[Path, ...]:
    """The Makefile's CONFIGS: data, stage, the stage's recipe for that data when there is one, profile; then extras."""
    data = data_of(context, stage)
    files = [context.stages / "data" / f"{data}.yaml", context.stages / f"{stage}.yaml"]
    recipe = context.stages / "recipes" / stage / f"{data}.yaml"
    files += [recipe] if recipe.is_file() else []
    files += [context.stages / "profiles" / f"{context.profile}.yaml", *context.extra_configs]
    for path in files:
        if not path.is_file():
            raise SevilaError(f"{path}: no such config file; check --dataset/--profile or the stages folder")
    return tuple(files)


def merged(configs: tuple[Path, ...], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The layers' mappings merged as jsonargparse merges them (later wins; lists are replaced), then settings."""
    tree: dict[str, Any] = {}

    def merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = json.loads(json.dumps(value, default=str))

    for path in configs:
        merge(tree, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    for key, value in settings.items():
        *parents, last = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def with_defaults(tree: Mapping[str, Any]) -> dict[str, Any]:
    """The merged config with the model's and DataModule's defaults filled in: naming a default changes nothing."""
    full = json.loads(json.dumps(tree, default=str))
    for section in ("model", "data"):
        node = full.get(section) or {}
        if node.get("class_path"):
            node["init_args"] = {**class_defaults(node["class_path"]), **(node.get("init_args") or {})}
    return full


@lru_cache(maxsize=None)
def backbone_identity(backbone: str) -> dict[str, Any]:
    """A hub name as it is; a local folder by its files: contents up to 64 MiB (the demo's), else their sizes."""
    folder = Path(backbone)
    if not folder.is_dir():
        return {"name": backbone}
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return {"name": backbone, "files": {str(path.relative_to(folder)): file_digest(path)
                                        if path.stat().st_size <= 64 << 20 else path.stat().st_size for path in files}}


def annotation_digests(tree: Mapping[str, Any]) -> dict[str, str]:
    """sha256 of every file in the data's annotation folder: other questions are other results."""
    folder = (tree.get("data") or {}).get("init_args", {}).get("annotation_dir")
    if not folder or not Path(folder).is_dir():
        return {}
    return {path.name: file_digest(path) for path in sorted(Path(folder).iterdir()) if path.is_file()}


def plan_run(run: RunSpec, context: Context, inputs: Mapping[str, StageRun]) -> StageRun:
    """The StageRun of `run`, given the StageRuns of the runs it starts from."""
    configs = layers(context, run.stage)
    settings = {**context_settings(context, data_of(context, run.stage)), **run.settings}
    tree = merged(configs, settings)
    identity = {
        "stage": run.stage,
        "config": with_defaults(tree),
        "backbone": backbone_identity(context.backbone),
        "annotations": annotation_digests(tree),
        "inputs": {key: stage_run.digest for key, stage_run in sorted(inputs.items())},
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = context.checkpoints / "experiments" / "stages" / run.stage / digest
    return StageRun(run.stage, configs, settings, dict(inputs), digest, folder, context.backbone, tree)
