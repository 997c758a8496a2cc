"""Pictures of frames a person looks at: contact sheets of scored frames (PNG, Pillow); charts are in `charts`."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from PIL import Image, ImageDraw

from sevila.io import atomic_open

HIGHLIGHT = (255, 64, 64)
TEXT = (20, 20, 20)
BACKGROUND = (255, 255, 255)


def contact_sheet(
    frames: torch.Tensor, scores: Sequence[float], chosen: Sequence[int], title: str = "", columns: int = 8, tile: int = 96
) -> Image.Image:
    """All frames (T, 3, H, W) uint8 in a grid, each with its Localizer score; chosen frames framed in red."""
    rows = -(-frames.shape[0] // columns)
    caption, header = 14, 18 if title else 0
    sheet = Image.new("RGB", (columns * (tile + 4), header + rows * (tile + caption + 4)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((4, 2), title, fill=TEXT)
    for i, frame in enumerate(frames):
        x, y = (i % columns) * (tile + 4) + 2, header + (i // columns) * (tile + caption + 4) + 2
        image = Image.fromarray(frame.permute(1, 2, 0).contiguous().numpy()).resize((tile, tile))
        sheet.paste(image, (x, y))
        if i in chosen:
            draw.rectangle([x - 2, y - 2, x + tile + 1, y + tile + 1], outline=HIGHLIGHT, width=3)
        draw.text((x + 2, y + tile + 1), f"#{i} {scores[i]:.2f}", fill=HIGHLIGHT if i in chosen else TEXT)
    return sheet


def stack_vertically(images: Sequence[Image.Image]) -> Image.Image:
    """One image holding the given ones top to bottom."""
    stacked = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), BACKGROUND)
    top = 0
    for image in images:
        stacked.paste(image, (0, top))
        top += image.height
    return stacked


def save_png(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """Write a PNG atomically."""
    with atomic_open(path, "wb") as handle:
        image.save(handle, format="PNG")
