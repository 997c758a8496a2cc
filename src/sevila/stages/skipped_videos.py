"""The report of videos `data.on_bad_video: skip` left out: collected from batches, merged over ranks.

DataLoader workers each hold their own copy of the dataset, so the records a worker skips reach
the main process inside the batches (`batch["skipped"]`); every rank collects its own and `report`
merges them over the ranks, so the file lists each skipped record once however it was loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sevila.io import write_jsonl
from sevila.stages.gather import gather_lists

log = logging.getLogger(__name__)

REPORT_NAME = "skipped_videos.jsonl"


class SkippedVideos:
    """The {qid, video, reason} entries of the skipped records this process has seen in its batches."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []

    def collect(self, batch: Any) -> None:
        """Take the batch's skipped entries (a batch without the field adds none)."""
        if isinstance(batch, dict):
            self.entries += batch.get("skipped", [])

    def report(self, folder: str | Path, write: bool) -> int:
        """Merge all ranks' entries (collective: call on every rank); `write` rank writes the file. Returns the count."""
        entries = gather_lists(self.entries)
        unique = sorted({(e["qid"], e["video"]): e for e in entries}.values(), key=lambda e: (e["qid"], e["video"]))
        if write and unique:
            path = Path(folder) / REPORT_NAME
            write_jsonl(path, unique)
            log.warning("%d record(s) skipped for unreadable videos (data.on_bad_video: skip); see %s", len(unique), path)
        return len(unique)
