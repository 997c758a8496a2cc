"""The argument parser every plain (non-Lightning) verb uses: a usage error is one SevilaError line, exit 2."""

from __future__ import annotations

import argparse
from typing import NoReturn

from sevila.errors import SevilaError


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors become SevilaError, so the CLI prints one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage block and exiting."""
        usage = " ".join(self.format_usage().split())
        raise SevilaError(f"{message} ({usage})")
