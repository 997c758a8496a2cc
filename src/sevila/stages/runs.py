"""One `sevila fit` run folder per configuration, so a re-run never silently reuses a run of other settings.

`--trainer.default_root_dir` names the stage folder; each configuration trains in `<stage folder>/run-<digest>`,
the digest of everything that changes what is trained (the parsed config, as Lightning saves it in config.yaml,
without the settings in `NOT_IDENTITY`) and of the contents of the weights and annotation files it starts from.
The folder keeps `run.json` (that identity) and, once `fit` has ended normally, `finished.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sevila.errors import SevilaError
from sevila.io import write_json

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
FINISHED_FILE = "finished.json"
LAST = Path("checkpoints") / "last.ckpt"

# Where a run goes, on what and how it reports, not what it trains: a killed run may resume with other
# workers, devices (the global batch stays; only its split changes), logging or callbacks (the test suite's
# kill switch is one), and write its export elsewhere.
NOT_IDENTITY = (
    "config", "ckpt_path", "trainer.default_root_dir", "trainer.callbacks", "trainer.logger",
    "trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.log_every_n_steps",
    "trainer.accelerator", "trainer.devices", "trainer.num_nodes", "trainer.strategy",
    "model.init_args.max_device_batch_size", "data.init_args.num_workers", "model.init_args.export_path",
    "model.init_args.cache_dir", "model.init_args.flush_every",
)
WEIGHT_INPUTS = ("model.init_args.init_localizer", "model.init_args.init_answerer")
ANNOTATION_INPUTS = ("data.init_args.train_file", "data.init_args.val_file")


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"model.init_args.lr": 3e-05, ...}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def file_digest(path: Path) -> str:
    """sha256 of a file's contents."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def run_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two fit runs the same: the flattened config without NOT_IDENTITY, plus input file digests."""
    flat = flatten(config)
    identity = {k: v for k, v in flat.items() if not any(k == n or k.startswith(f"{n}.") for n in NOT_IDENTITY)}
    files = {key: Path(flat[key]) for key in WEIGHT_INPUTS if flat.get(key)}
    annotations = flat.get("data.init_args.annotation_dir")
    if annotations:
        files |= {key: Path(annotations) / str(flat[key]) for key in ANNOTATION_INPUTS if flat.get(key)}
    for key, path in sorted(files.items()):
        identity[f"sha256 of {key}"] = file_digest(path) if path.is_file() else None
    return identity


def run_folder(stage_folder: str | Path, identity: Mapping[str, Any]) -> Path:
    """`<stage folder>/run-<first 12 hex digits of the identity's sha256>`."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return Path(stage_folder) / f"run-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def differences(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 3) -> str:
    """The first settings two identities differ in, as 'key: old -> new'."""
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    shown = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:limit]]
    return "; ".join(shown) + (f"; and {len(keys) - limit} more" if len(keys) > limit else "")


def note_other_runs(folder: Path, identity: Mapping[str, Any]) -> None:
    """Log the resumable runs of other configurations beside `folder`: they are left as they are."""
    for other in sorted(folder.parent.glob("run-*")):
        record = other / RUN_FILE
        if other == folder or (other / FINISHED_FILE).exists() or not (other / LAST).exists() or not record.is_file():
            continue  # only resumable runs: a finished one, or one stopped before its first checkpoint, is not
        stored = json.loads(record.read_text(encoding="utf-8"))["identity"]
        log.info("note: %s holds an unfinished run of another configuration (%s); it is not resumed",
                 other, differences(stored, identity))


def start_run(folder: Path, identity: Mapping[str, Any], ckpt_path: str | None, command: list[str]) -> None:
    """Check that `folder` may be (re)started as asked, and record the identity; one-line errors otherwise."""
    if (folder / FINISHED_FILE).exists():
        raise SevilaError(
            f"{folder} has already trained this configuration to the end; remove {folder} to train it again, "
            "or change a setting (another configuration trains in a folder of its own)"
        )
    unfinished = (folder / LAST).exists()
    if unfinished and ckpt_path is None:
        raise SevilaError(
            f"{folder} holds an unfinished run of this configuration; pass --ckpt_path=last to resume it, "
            f"or remove {folder} to start it over"
        )
    note_other_runs(folder, identity)
    if unfinished and ckpt_path == "last":
        log.info("resuming the unfinished run in %s", folder)
    elif not unfinished:
        log.info("new run folder %s", folder)
    if not (folder / RUN_FILE).exists():
        write_json(folder / RUN_FILE, {"identity": dict(identity), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                       "command": command})


def finish_run(folder: Path, summary: Mapping[str, Any]) -> None:
    """Mark the run in `folder` finished: a later fit of the same configuration refuses to retrain it silently."""
    write_json(folder / FINISHED_FILE, {"finished": time.strftime("%Y-%m-%d %H:%M:%S"), **summary})
