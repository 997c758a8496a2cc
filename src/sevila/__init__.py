"""SeViLA: self-chained BLIP-2 for video keyframe localization and question answering."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# The Python API, loaded on first use: `import sevila` (every CLI verb does) stays free of torch and transformers.
_LAZY = {"Pipeline": "sevila.pipeline", "Question": "sevila.pipeline_types", "Answer": "sevila.pipeline_types",
         "Keyframe": "sevila.pipeline_types"}
__all__ = ["Answer", "Keyframe", "Pipeline", "Question"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'sevila' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
