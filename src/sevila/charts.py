"""Charts a person reads, drawn with matplotlib: grouped result bars and the Localizer's score over a video's time.

Figures are built with `matplotlib.figure.Figure` (no pyplot state, no display), so reports, experiments and the
web app can draw from any thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from sevila.io import atomic_open

KEYFRAME_COLOUR = "#d62728"
SCORE_COLOUR = "#1f77b4"


def bar_chart(values: Mapping[str, Mapping[str, float]], title: str, ylabel: str = "percent") -> Figure:
    """Grouped bars: one group per outer key (e.g. a mode), one bar per inner key (a metric), each labelled."""
    metrics = list(dict.fromkeys(name for group in values.values() for name in group))
    figure = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(metrics))
    for m, metric in enumerate(metrics):
        xs = [g + (m - (len(metrics) - 1) / 2) * width for g in range(len(values))]
        heights = [float(group.get(metric, 0.0)) for group in values.values()]
        bars = axes.bar(xs, heights, width, label=metric)
        axes.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
    axes.set_xticks(range(len(values)), list(values))
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, max([100.0, *(float(v) * 1.1 for group in values.values() for v in group.values())]))
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize=8)
    return figure


def frame_score_chart(
    times: Sequence[float], scores: Sequence[float], keyframes: Sequence[int], title: str = ""
) -> Figure:
    """The Localizer's score of each sampled frame over time (seconds), the chosen keyframes (positions) marked."""
    figure = Figure(figsize=(7, 3), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.plot(times, scores, marker="o", markersize=3, color=SCORE_COLOUR, label="Localizer score (yes-logit)")
    axes.scatter([times[k] for k in keyframes], [scores[k] for k in keyframes], s=60, color=KEYFRAME_COLOUR,
                 zorder=3, label="keyframes")
    for k in keyframes:
        axes.axvline(times[k], color=KEYFRAME_COLOUR, alpha=0.3, linewidth=1)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("score")
    if title:
        axes.set_title(title)
    axes.legend(loc="best", fontsize=8)
    return figure


Point = tuple[str, float, float, "float | None"]  # label, x, y, y's error bar (None: no bar)


def scatter_panels(panels: Mapping[str, Sequence[Point]], xlabel: str, title: str) -> Figure:
    """One panel per measure (its name the y label), one labelled marker per point, with its error bar."""
    figure = Figure(figsize=(4.0 * max(1, len(panels)), 3.8), dpi=100, layout="constrained")
    figure.suptitle(title, fontsize=9)
    for index, (measure, points) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for label, x, y, error in points:
            axes.errorbar([x], [y], yerr=None if error is None else [error], fmt="o", capsize=3, label=label)
            axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(measure)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> None:
    """Write a figure as PNG, atomically."""
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
