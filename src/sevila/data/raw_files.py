"""Annotation files as text: strict UTF-8, JSON lists, JSON Lines and CSV rows with their locations."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sevila.errors import SevilaError

_UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class RawRow:
    """One row of a file: where it is (`line 3`, `record 2`) and its object, or why it could not be parsed."""

    where: str
    value: dict[str, Any] | None
    error: str | None = None


def json_type(value: Any) -> str:
    """Name a parsed JSON value's type the way a JSON user would (`an object`, `a list`, ...)."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def read_text(path: str | Path, expected: str) -> str:
    """Return a file's text; a non-UTF-8 byte (with its offset) or an empty file raises SevilaError."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SevilaError(
            f"{path}: not UTF-8 text: byte 0x{data[error.start]:02x} at byte offset {error.start} "
            "cannot be decoded; re-save the file as UTF-8"
        ) from None
    text = text.removeprefix(_UTF8_BOM)
    if not text.strip():
        raise SevilaError(f"{path}: the file is empty; expected {expected}")
    return text


def load_json_list(path: str | Path, expected: str, text: str | None = None) -> list[Any]:
    """Parse a file holding one JSON list; bad JSON or another top-level type raises SevilaError."""
    text = read_text(path, expected) if text is None else text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SevilaError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}; expected {expected}"
        ) from None
    if not isinstance(data, list):
        raise SevilaError(f"{path}: the top-level JSON value is {json_type(data)}; expected {expected}")
    return data


def json_list_rows(path: str | Path, expected: str, text: str | None = None) -> list[RawRow]:
    """The records of a JSON-list file, numbered from 1; a record that is not an object is a row error."""
    rows = []
    for number, item in enumerate(load_json_list(path, expected, text), start=1):
        error = None if isinstance(item, dict) else f"the record is {json_type(item)}; expected an object"
        rows.append(RawRow(f"record {number}", item if error is None else None, error))
    return rows


def jsonl_rows(path: str | Path, expected: str, text: str | None = None) -> list[RawRow]:
    """The objects of a JSON Lines file, one per non-blank line; a bad line is a row error."""
    text = read_text(path, expected) if text is None else text
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            rows.append(RawRow(f"line {number}", None, f"invalid JSON at column {error.colno}: {error.msg}"))
            continue
        error_text = None if isinstance(item, dict) else f"the line holds {json_type(item)}; expected an object"
        rows.append(RawRow(f"line {number}", item if error_text is None else None, error_text))
    return rows


def csv_rows(path: str | Path, columns: Sequence[str], header: bool) -> list[RawRow]:
    """CSV rows as dicts keyed by `columns`; with `header`, the file's own header must name them all."""
    expected = f"CSV with the columns {','.join(columns)}"
    reader = csv.reader(io.StringIO(read_text(path, expected), newline=""))
    names = list(columns)
    if header:
        names = next(reader)
        missing = [column for column in columns if column not in names]
        if missing:
            raise SevilaError(
                f"{path}: line 1: the header {','.join(names)} lacks the column(s) {','.join(missing)}; "
                f"expected {expected}"
            )
    rows, line = [], reader.line_num + 1
    for fields in reader:
        where, line = f"line {line}", reader.line_num + 1
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(names):
            error = f"the row has {len(fields)} fields; expected {len(names)} ({','.join(names)})"
            rows.append(RawRow(where, None, error))
            continue
        rows.append(RawRow(where, dict(zip(names, fields))))
    return rows
