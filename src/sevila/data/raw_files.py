"""Annotation files as text: strict UTF-8, JSON lists, JSON Lines and CSV rows with their locations."""

from __future__ import annotations

import csv
import io
import json
import sys
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


class JSONProblem(ValueError):
    """Why a text is not the JSON it should be; the message says where, when that is known."""


def parse_json(text: str, one_line: bool = False) -> Any:
    """`json.loads` that refuses repeated keys and says where parsing failed; every failure is a JSONProblem."""

    def where(position: int) -> str:
        line, column = text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)
        return f"column {column}" if one_line else f"line {line} column {column}"

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) != len(pairs):  # Python would keep the last one silently
            seen: set[str] = set()
            repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
            raise JSONProblem(f"key {repeated!r} appears twice in one object; each key must appear once")
        return value

    def integer(digits: str) -> int:
        limit = sys.get_int_max_str_digits()
        if limit and len(digits.lstrip("-")) > limit:
            raise JSONProblem(f"the number at {where(text.find(digits))} has {len(digits.lstrip('-'))} digits, "
                              f"more than Python converts ({limit}); no field takes such a number")
        return int(digits)

    try:
        return json.loads(text, object_pairs_hook=unique, parse_int=integer)
    except json.JSONDecodeError as error:
        raise JSONProblem(f"invalid JSON at {where(error.pos)}: {error.msg}") from None
    except RecursionError:
        raise JSONProblem("lists or objects nest too deeply to parse (thousands of levels)") from None


def utf8_text(path: str | Path) -> str:
    """A file's text, a leading byte-order mark dropped; a non-UTF-8 byte raises SevilaError with its offset."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8").removeprefix(_UTF8_BOM)
    except UnicodeDecodeError as error:
        raise SevilaError(
            f"{path}: not UTF-8 text: byte 0x{data[error.start]:02x} at byte offset {error.start} "
            "cannot be decoded; re-save the file as UTF-8"
        ) from None


def read_text(path: str | Path, expected: str) -> str:
    """Return a file's text; a non-UTF-8 byte (with its offset) or an empty file raises SevilaError."""
    text = utf8_text(path)
    if not text.strip():
        raise SevilaError(f"{path}: the file is empty; expected {expected}")
    return text


def load_json_list(path: str | Path, expected: str, text: str | None = None) -> list[Any]:
    """Parse a file holding one JSON list; bad JSON or another top-level type raises SevilaError."""
    data = load_json(path, expected, text)
    if not isinstance(data, list):
        raise SevilaError(f"{path}: the top-level JSON value is {json_type(data)}; expected {expected}")
    return data


def load_json(path: str | Path, expected: str, text: str | None = None) -> Any:
    """Parse a JSON file (or its `text`); anything that is not JSON raises SevilaError naming the file."""
    try:
        return parse_json(read_text(path, expected) if text is None else text)
    except JSONProblem as problem:
        raise SevilaError(f"{path}: {problem}; expected {expected}") from None


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
            item = parse_json(line, one_line=True)
        except JSONProblem as problem:
            rows.append(RawRow(f"line {number}", None, str(problem)))
            continue
        error_text = None if isinstance(item, dict) else f"the line holds {json_type(item)}; expected an object"
        rows.append(RawRow(f"line {number}", item if error_text is None else None, error_text))
    return rows


def csv_rows(path: str | Path, columns: Sequence[str], header: bool) -> list[RawRow]:
    """CSV rows as dicts keyed by `columns`; with `header`, the file's own header must name them all."""
    expected = f"CSV with the columns {','.join(columns)}"
    text = read_text(path, expected)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        reason = f"a NUL byte (0x00); this is not CSV text (damaged?): expected {expected}"
        raise SevilaError(f"{path}: line {line}: {reason}")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    names = list(columns)
    if header:
        names = _next_row(path, reader, 1) or []
        missing = [column for column in columns if column not in names]
        if missing:
            raise SevilaError(
                f"{path}: line 1: the header {','.join(names)} lacks the column(s) {','.join(missing)}; "
                f"expected {expected}"
            )
    rows, line = [], reader.line_num + 1
    while (fields := _next_row(path, reader, line)) is not None:
        where, line = f"line {line}", reader.line_num + 1
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(names):
            error = f"the row has {len(fields)} fields; expected {len(names)} ({','.join(names)})"
            rows.append(RawRow(where, None, error))
            continue
        rows.append(RawRow(where, dict(zip(names, fields))))
    return rows


def _next_row(path: str | Path, reader: Any, line: int) -> list[str] | None:
    """The next row (None at the end); a quoting error names the line where the row starts."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise SevilaError(
            f"{path}: line {line}: malformed CSV ({error}); a quote left open or a stray quote? Wrap fields "
            'holding commas, quotes or line breaks in "...", with inner quotes doubled ("")'
        ) from None
