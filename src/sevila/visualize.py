"""Pictures a person looks at: contact sheets of scored frames and bar charts of results (PNG, Pillow)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

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


def bar_chart(values: Mapping[str, Mapping[str, float]], title: str, width: int = 640, height: int = 360) -> Image.Image:
    """Grouped bars: one group per outer key (e.g. a mode), one bar per inner key (a metric, 0-100)."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((10, 6), title, fill=TEXT)
    metrics = sorted({name for group in values.values() for name in group})
    palette = [(66, 133, 244), (52, 168, 83), (251, 188, 5), (234, 67, 53)]
    top, bottom, left = 40, height - 40, 40
    group_width = (width - left - 20) / max(1, len(values))
    bar = group_width * 0.8 / max(1, len(metrics))
    draw.line([left, bottom, width - 10, bottom], fill=TEXT)
    for g, (group, group_values) in enumerate(values.items()):
        x0 = left + g * group_width + group_width * 0.1
        for m, metric in enumerate(metrics):
            value = float(group_values.get(metric, 0.0))
            y = bottom - (bottom - top) * max(0.0, min(value, 100.0)) / 100.0
            draw.rectangle([x0 + m * bar, y, x0 + (m + 1) * bar - 2, bottom], fill=palette[m % len(palette)])
            draw.text((x0 + m * bar, y - 12), f"{value:.0f}", fill=TEXT)
        draw.text((x0, bottom + 6), group, fill=TEXT)
    for m, metric in enumerate(metrics):
        draw.rectangle([width - 200, 8 + 14 * m, width - 190, 18 + 14 * m], fill=palette[m % len(palette)])
        draw.text((width - 185, 6 + 14 * m), metric, fill=TEXT)
    return image


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
