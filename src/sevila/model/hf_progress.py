"""transformers' progress bars ("Loading weights", "Writing model shards") on a terminal only, not in logs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from transformers.utils import logging as hf_logging


@contextmanager
def progress_on_terminal() -> Iterator[None]:
    """Inside the block, transformers draws progress bars only when stderr is a terminal."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    if not sys.stderr.isatty():
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
