"""On-disk cache of reverse-chain pseudo-labels: one bool per (question, video frame index) (method §6)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sevila.errors import SevilaError
from sevila.io import write_json

log = logging.getLogger(__name__)

PRODUCER_FILE = "producer.json"


class PseudoLabelCache:
    """Labels of the frozen Answerer, computed once; each process writes its own shard atomically.

    `producer` (backbone, Answerer weights digest, dtypes, frozen_dropout) is recorded in producer.json; a cache made by
    another producer is refused rather than reused, since its labels would be stale.
    """

    def __init__(self, directory: str | Path, producer: dict[str, Any], rank: int = 0) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"pseudo_labels.rank{rank}.json"
        self.labels: dict[str, bool] = {}
        self._unsaved = 0
        shards = sorted(self.directory.glob("pseudo_labels.rank*.json"))
        self._check_producer(producer, has_labels=bool(shards))
        for shard in shards:
            try:
                self.labels.update(json.loads(shard.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise SevilaError(f"{shard}: damaged pseudo-label cache ({error}); delete it to recompute") from error
        if self.labels:
            log.info("pseudo-label cache: %d labels from %s", len(self.labels), self.directory)

    def _check_producer(self, producer: dict[str, Any], has_labels: bool) -> None:
        """Record `producer` in a new cache; refuse a cache whose labels another producer (or an unknown one) made."""
        record = self.directory / PRODUCER_FILE
        if not record.is_file():
            if has_labels:
                raise SevilaError(
                    f"{self.directory}: pseudo-label cache without {PRODUCER_FILE}, so the Answerer that made it is "
                    "unknown; delete the folder to recompute, or set model.cache_dir to another folder"
                )
            write_json(record, producer)
            return
        try:
            stored = json.loads(record.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SevilaError(f"{record}: damaged ({error}); delete {self.directory} to recompute") from error
        changed = sorted(key for key in producer.keys() | stored.keys() if producer.get(key) != stored.get(key))
        if changed:
            raise SevilaError(
                f"{self.directory}: pseudo-labels were made by another model ({', '.join(changed)} differ: cached "
                f"{ {k: stored.get(k) for k in changed} }, now { {k: producer.get(k) for k in changed} }); delete the "
                "folder to recompute them, or set model.cache_dir to another folder"
            )

    @staticmethod
    def key(qid: str, frame_index: int) -> str:
        """Cache key of one question's frame."""
        return f"{qid}|{frame_index}"

    def lookup(self, qid: str, frame_index: int) -> bool | None:
        """The label of one frame of one question, or None if it was never computed."""
        return self.labels.get(self.key(qid, frame_index))

    def store(self, qid: str, frame_index: int, label: bool) -> None:
        """Remember the label of one frame of one question (written by `flush`); a stored label is never replaced."""
        self.labels.setdefault(self.key(qid, frame_index), bool(label))
        self._unsaved += 1

    def flush(self) -> None:
        """Write this process's labels if any are new (temp file + rename)."""
        if self._unsaved:
            write_json(self.path, self.labels)
            self._unsaved = 0
