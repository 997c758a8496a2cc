"""The matplotlib charts: what they draw is the data they were given, and they save as PNG."""

from __future__ import annotations

from PIL import Image

from sevila.charts import bar_chart, frame_score_chart, save_figure, scatter_panels


def test_bar_chart_draws_each_value_with_its_label_and_the_whole_title(tmp_path):
    values = {"uniform": {"accuracy": 23.75, "keyframe hit rate": 9.38},
              "localizer": {"accuracy": 65.0, "keyframe hit rate": 61.67}}
    figure = bar_chart(values, "SeViLA demo: uniform vs Localizer")
    axes = figure.axes[0]
    assert axes.get_title() == "SeViLA demo: uniform vs Localizer"  # the Pillow chart lost the ': '
    assert [round(bar.get_height(), 2) for bar in axes.patches] == [23.75, 65.0, 9.38, 61.67]
    assert [text.get_text() for text in axes.texts] == ["23.75", "65.00", "9.38", "61.67"]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["uniform", "localizer"]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["accuracy", "keyframe hit rate"]
    save_figure(figure, tmp_path / "chart.png")
    assert Image.open(tmp_path / "chart.png").size == (700, 400)


def test_frame_score_chart_marks_the_keyframes_on_the_scores():
    times, scores = [0.0, 0.5, 1.0, 1.5], [0.1, 0.9, 0.4, 0.8]
    axes = frame_score_chart(times, scores, [1, 3], "what color").axes[0]
    line = axes.get_lines()[0]
    assert list(line.get_xdata()) == times and list(line.get_ydata()) == scores
    assert axes.collections[0].get_offsets().tolist() == [[0.5, 0.9], [1.5, 0.8]]
    assert [l.get_xdata()[0] for l in axes.get_lines()[1:]] == [0.5, 1.5]  # one vertical line per keyframe
    assert axes.get_xlabel() == "time (s)" and axes.get_title() == "what color"


def test_scatter_panels_draw_one_labelled_marker_per_point_with_its_error_bar():
    panels = {"difference": [("a", 50.0, 4.0, 1.5), ("b", 60.0, -2.0, None)], "precision": [("a", 50.0, 70.0, 3.0)]}
    figure = scatter_panels(panels, "base Acc", "comparisons")
    first, second = figure.axes
    assert (first.get_ylabel(), second.get_ylabel(), first.get_xlabel()) == ("difference", "precision", "base Acc")
    markers = [list(zip(c.lines[0].get_xdata(), c.lines[0].get_ydata())) for c in first.containers]
    assert markers == [[(50.0, 4.0)], [(60.0, -2.0)]]
    bar = first.containers[0].lines[2][0].get_segments()[0]
    assert bar.tolist() == [[50.0, 2.5], [50.0, 5.5]]  # 4 ± 1.5
    assert first.containers[1].lines[2] == ()  # no SE, no bar
    assert [text.get_text() for text in first.texts] == ["a", "b"]
