"""`sevila` entry point: a table of verbs, each a `main(argv) -> int` in its own module."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from sevila.errors import SevilaError, os_error_message

VERBS: dict[str, tuple[str, str]] = {
    "fit": ("sevila.stages.cli", "fit"),
    "validate": ("sevila.stages.cli", "validate"),
    "test": ("sevila.stages.cli", "test"),
    "prepare": ("sevila.data.prepare_cli", "main"),
    "data": ("sevila.data.check_cli", "main"),
    "metrics": ("sevila.metrics.cli", "main"),
    "predict": ("sevila.predict", "main"),
    "app": ("sevila.app", "main"),
    "import-checkpoint": ("sevila.model.import_cli", "main"),
    "demo-data": ("sevila.demo.data_cli", "main"),
    "demo-backbone": ("sevila.demo.cli", "backbone_main"),
    "demo-report": ("sevila.demo.cli", "report_main"),
    "experiment": ("sevila.experiments.cli", "main"),
}

# What the operating system refuses on a path the user gave (too long, under a file, permission denied, a folder
# where a file belongs, ...) is a user error too; its message names the path and the fix.
USER_ERRORS = (SevilaError, ValueError, OSError)


def _usage() -> str:
    return "usage: sevila {" + ",".join(VERBS) + "} ... [--debug]  (sevila VERB --help for details)"


def _resolve(verb: str) -> Callable[[list[str]], int | None]:
    module_name, function_name = VERBS[verb]
    return getattr(importlib.import_module(module_name), function_name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; user errors become one line on stderr and exit code 2 (`--debug` re-raises)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] not in VERBS:
        print(f"sevila: unknown verb {args[0]!r}; {_usage()}", file=sys.stderr)
        return 2
    try:
        return int(_resolve(args[0])(args[1:]) or 0)
    except USER_ERRORS as error:
        if debug:
            raise
        message = os_error_message(error) if isinstance(error, OSError) else str(error)
        one_line = " ".join(line.strip() for line in message.splitlines() if line.strip())
        print(f"sevila {args[0]}: error: {one_line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
