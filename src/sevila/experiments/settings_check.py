"""Check a run's settings before anything runs: each names an argument of its stage, DataModule or Trainer, and
each value is one that argument accepts (jsonargparse, as `sevila fit|test` will parse it)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonargparse import ArgumentParser

from sevila.errors import SevilaError

SECTIONS = ("model.init_args.", "data.init_args.", "trainer.")
# What the runner passes itself: a cell names the runs to start from, and the folders follow from the digest.
RESERVED = ("model.init_args.backbone", "model.init_args.init_localizer", "model.init_args.init_answerer",
            "model.init_args.export_path", "model.init_args.output_dir", "model.init_args.cache_dir",
            "model.init_args.feature_cache", "trainer.default_root_dir", "ckpt_path")


@lru_cache(maxsize=None)
def _parser(class_path: str) -> ArgumentParser:
    """A parser of one class's constructor arguments, nested under `x`."""
    module, _, name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, "x", fail_untyped=False)
    return parser


def class_defaults(class_path: str) -> dict[str, Any]:
    """A class's constructor defaults as `sevila fit|test` fills them in, e.g. DemoQA's localizer_prompt 'paper'."""
    return _parser(class_path).get_defaults().x.as_dict()


def _class_of(section: str, tree: Mapping[str, Any]) -> str:
    if section == "trainer.":
        return "lightning.pytorch.Trainer"
    return str(tree[section.split(".")[0]]["class_path"])


def check_settings(where: str, settings: Mapping[str, Any], tree: Mapping[str, Any]) -> None:
    """One-line SevilaError for the first setting no stage would accept; `tree` is the run's merged config."""
    for key, value in settings.items():
        if key in RESERVED:
            raise SevilaError(f"{where}: {key} is set by the runner (name a run in init_localizer/init_answerer; "
                              "folders follow from the configuration); remove it")
        section = next((s for s in SECTIONS if key.startswith(s)), None)
        if section is None or key == section:
            raise SevilaError(f"{where}: unknown setting {key!r}; settings start with {', '.join(SECTIONS)} "
                              "(e.g. model.init_args.num_keyframes)")
        class_path = _class_of(section, tree)
        name = key[len(section):]
        top = section.split(".")[0]
        given = tree.get(top, {}).get("init_args", {}) if top != "trainer" else tree.get("trainer", {})
        try:  # with the layers' values, so that required arguments are there: only this setting is new
            _parser(class_path).parse_object({"x": {**given, name: value}}, defaults=False)
        except Exception as error:  # jsonargparse's ArgumentError and its type errors
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            reason = "unknown setting" if "does not accept" in " ".join(lines) else f"{value!r} is refused"
            detail = " ".join(lines[1:3]) if len(lines) > 1 else ""
            raise SevilaError(f"{where}: {key}: {reason} by {class_path}{': ' + detail if detail else ''}") from None
