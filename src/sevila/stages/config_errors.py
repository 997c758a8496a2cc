"""One-line messages for what `sevila fit|validate|test` refuses before a run: config keys and checkpoints."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from sevila.data.raw_files import utf8_text
from sevila.errors import SevilaError, os_error_message
from sevila.io import check_output_file, check_output_folder
from sevila.model.torch_files import UnreadableTorchFile, load_weights_only

_UNION_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "- Expected a <class",
                "Given value type:", "Given value:")


def parse_error_line(parser_output: str, argv: Sequence[str]) -> str:
    """The jsonargparse error (usage block and Union boilerplate dropped) as one line with the fix."""
    message = parser_output.rpartition("error: ")[2].strip() or parser_output.strip()
    lines = [line.strip() for line in message.splitlines()]
    kept = [line.removeprefix("- ") for line in lines if line and not line.startswith(_UNION_NOISE)]
    verb = argv[0] if argv else "fit"
    return " ".join(kept) + f"; fix or remove it (`sevila {verb} -c ... --print_config` lists every accepted key)"


def check_config_files(argv: Sequence[str]) -> None:
    """Every `-c/--config` file that exists is UTF-8 text (jsonargparse's decoding error would not name it)."""
    for index, arg in enumerate(argv):
        if arg in ("-c", "--config") and index + 1 < len(argv):
            path = argv[index + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
        else:
            continue
        if os.path.isfile(path):
            _check_yaml(path, utf8_text(path))


def _check_yaml(path: str, text: str) -> None:
    """The file parses as YAML; jsonargparse's own error says "<unicode string>", not which file."""
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SevilaError(f"{path}: not valid YAML{where}: {reason}; fix the file (a stage config YAML)") from None
    except RecursionError:
        raise SevilaError(f"{path}: not a stage config: lists or mappings nest too deeply to parse") from None


def user_error_in(error: BaseException) -> SevilaError | None:
    """The user error that caused `error` (jsonargparse wraps what a class's __init__ raises), if any.

    A SevilaError comes back as itself; an OS refusal on a path (a file the constructor reads, a folder
    it creates) as a SevilaError naming the path.
    """
    cause = error.__cause__ or error.__context__
    while cause is not None and not isinstance(cause, (SevilaError, OSError)):
        cause = cause.__cause__ or cause.__context__
    return SevilaError(os_error_message(cause)) if isinstance(cause, OSError) else cause


def check_checkpoint_readable(path: str | os.PathLike[str]) -> None:
    """Load a `--ckpt_path` file the way the Trainer will (weights_only=True); a damaged file is a SevilaError."""
    try:
        checkpoint = load_weights_only(path, mmap=True)
    except UnreadableTorchFile as error:
        raise SevilaError(
            f"{path}: not a readable checkpoint ({error}); it is truncated, damaged or not a sevila stage's "
            ".ckpt: pass an intact last.ckpt, or drop --ckpt_path to start afresh"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise SevilaError(f"{path}: not a Lightning checkpoint (no state_dict); pass a stage's last.ckpt")


def check_run_outputs(trainer: Mapping[str, Any], model: Mapping[str, Any], folders: Sequence[str]) -> None:
    """Before anything is built: every folder and file the run writes can be created (names, parents, rights)."""
    check_output_folder(trainer.get("default_root_dir") or os.getcwd(), "trainer.default_root_dir")
    for name in (*folders, "feature_cache"):
        if model.get(name):
            check_output_folder(model[name], f"model.{name}")
    if model.get("export_path"):
        check_output_file(model["export_path"], "model.export_path")
