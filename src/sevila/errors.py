"""The one project error type for bad user input (files, records, settings)."""

from __future__ import annotations


class SevilaError(Exception):
    """Bad user input; the message names the file/record/field, what was found and the fix."""
