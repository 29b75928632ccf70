"""Trade-off plots of ``unlearn compare``: one panel per pair of summary keys the benchmark declares.

Each run is a labelled point, with its evaluations during training (``eval_log.jsonl``) drawn as a curve that ends
there; the target and retain models are marked (the retain model, trained without the forget data, is the goal). A
legend outside the panels names every run and its swept settings. Labels are placed where they overlap neither each
other nor a marker. Drawn with matplotlib's object API (no pyplot state), to PNG bytes.
"""

from __future__ import annotations

import io
from typing import Any

from unlearn_core.benchmarks import TradeoffAxes
from unlearn_core.compare.runs import Comparison
from unlearn_core.errors import UnlearnError

REFERENCE_STYLE = {"target": ("X", "#d62728", "target model"), "retain": ("*", "#2ca02c", "retain model (the goal)")}
LABEL_OFFSETS = [(7, 7), (7, -7), (-7, 7), (-7, -7), (10, 0), (-10, 0), (0, 11), (0, -11)]
LABEL_OFFSETS += [(16, 16), (16, -16), (-16, 16), (-16, -16), (24, 0), (-24, 0), (0, 24), (0, -24)]
"""Where a label may go around its point (points), tried in this order."""
LOG_FLOOR = 1e-12
DPI = 150


class PlotUnavailable(UnlearnError):
    """``--plot``/``--html`` without matplotlib installed (the ``plots`` extra)."""


def plottable_axes(comparison: Comparison, declared: tuple[TradeoffAxes, ...]) -> list[TradeoffAxes]:
    """The declared panels whose two keys some run has; without any, the first two table columns."""

    def has(axes: TradeoffAxes) -> bool:
        return any(
            _number(r.values.get(axes.x)) is not None and _number(r.values.get(axes.y)) is not None
            for r in comparison.runs
        )

    panels = [axes for axes in declared if has(axes)]
    if not panels and len(comparison.columns) >= 2:
        fallback = TradeoffAxes(x=comparison.columns[1], y=comparison.columns[0])
        panels = [fallback] if has(fallback) else []
    if not panels:
        raise UnlearnError("nothing to plot: the runs' summaries hold no pair of numbers to plot against each other")
    return panels


def render_png(comparison: Comparison, panels: list[TradeoffAxes], title: str) -> bytes:
    """The figure as PNG bytes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "plots need matplotlib, which is not installed: pip install matplotlib (or the 'plots' extra)"
        ) from None
    fig = Figure(figsize=(6.4 * len(panels), 5.2), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    axes_list = fig.subplots(1, len(panels), squeeze=False)[0]
    colors = _colors(len(comparison.runs))
    for ax, panel in zip(axes_list, panels):
        _draw_panel(ax, comparison, panel, colors)
    handles, labels = axes_list[0].get_legend_handles_labels()
    if any(run.curve for run in comparison.runs):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="grey", alpha=0.6, marker=".", markersize=4))
        labels.append("evaluations during training")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.93), fontsize=8, frameon=False)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax, panel in zip(axes_list, panels):
        _place_labels(ax, _labelled_points(comparison, panel, colors), renderer)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.2)
    return buffer.getvalue()


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _point(values: dict[str, Any], panel: TradeoffAxes) -> tuple[float, float] | None:
    x, y = _number(values.get(panel.x)), _number(values.get(panel.y))
    if x is None or y is None:
        return None
    floor = lambda v, log: max(v, LOG_FLOOR) if log else v  # noqa: E731  (0 on a log axis: drawn at the floor)
    return floor(x, panel.log_x), floor(y, panel.log_y)


def _axis_name(key: str, comparison: Comparison, log: bool) -> str:
    label = comparison.labels.get(key, key)
    name = f"{label} ({key})" if label != key else key.replace("_", " ")
    return f"{name}, log scale" if log else name


def _draw_panel(ax: Any, comparison: Comparison, panel: TradeoffAxes, colors: list[Any]) -> None:
    for run, color in zip(comparison.runs, colors):
        final = _point(run.values, panel)
        if final is None:
            continue
        curve = [p for p in (_point(r, panel) for r in run.curve) if p is not None]
        if curve:
            xs, ys = zip(*curve, final)
            ax.plot(xs, ys, "-", color=color, alpha=0.45, linewidth=1.2, marker=".", markersize=4, zorder=2)
        ax.scatter(*final, s=60, color=color, edgecolors="black", linewidths=0.6, zorder=3, label=run.label)
    for name, values in comparison.reference.items():
        marker, color, legend = REFERENCE_STYLE.get(name.split(" ")[0], ("D", "grey", name))
        point = _point(values, panel)
        if point is not None:
            ax.scatter(
                *point,
                s=150,
                marker=marker,
                color=color,
                edgecolors="black",
                linewidths=0.6,
                zorder=4,
                label=legend if name in REFERENCE_STYLE else name,
            )
    ax.set_xlabel(_axis_name(panel.x, comparison, panel.log_x))
    ax.set_ylabel(_axis_name(panel.y, comparison, panel.log_y))
    ax.set_xscale("log" if panel.log_x else "linear")
    ax.set_yscale("log" if panel.log_y else "linear")
    ax.set_title(panel.title or f"{panel.y} against {panel.x}", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(0.15)


def _labelled_points(comparison: Comparison, panel: TradeoffAxes, colors: list[Any]) -> list[tuple[Any, ...]]:
    """(x, y, text, color) of every point to label: runs by name, then the reference models."""
    points = []
    for run, color in zip(comparison.runs, colors):
        final = _point(run.values, panel)
        if final is not None:
            points.append((*final, run.name, color))
    for name, values in comparison.reference.items():
        point = _point(values, panel)
        if point is not None:
            points.append((*point, name, REFERENCE_STYLE.get(name.split(" ")[0], ("", "grey"))[1]))
    return points


def _place_labels(ax: Any, points: list[tuple[Any, ...]], renderer: Any) -> None:
    """Put each label at the first offset where it overlaps no placed label and no marker, inside the axes."""
    frame = ax.get_window_extent(renderer)
    markers = [ax.transData.transform((x, y)) for x, y, _, _ in points]
    taken: list[Any] = []

    def fits(box: Any) -> bool:
        inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
        return inside and not any(box.overlaps(b) for b in taken) and not any(_hits(box, m) for m in markers)

    for x, y, text, color in points:
        style = {"textcoords": "offset points", "fontsize": 8, "color": color, "fontweight": "bold", "zorder": 5}
        style["bbox"] = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}
        for dx, dy in LABEL_OFFSETS:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
            label = ax.annotate(text, (x, y), xytext=(dx, dy), ha=ha, va=va, **style)
            box = label.get_window_extent(renderer).padded(2)
            if fits(box):
                break
            label.remove()
        else:  # nowhere free: the first wide place, with a line to its point
            line = {"arrowstyle": "-", "color": color, "linewidth": 0.6}
            label = ax.annotate(text, (x, y), xytext=LABEL_OFFSETS[8], arrowprops=line, **style)
            box = label.get_window_extent(renderer)
        taken.append(box)


def _hits(box: Any, centre: Any, radius: float = 9.0) -> bool:
    """Whether ``box`` comes within ``radius`` pixels of a marker centred at ``centre``."""
    cx, cy = float(centre[0]), float(centre[1])
    nearest_x = min(max(cx, box.x0), box.x1)
    nearest_y = min(max(cy, box.y0), box.y1)
    return (nearest_x - cx) ** 2 + (nearest_y - cy) ** 2 < radius**2
