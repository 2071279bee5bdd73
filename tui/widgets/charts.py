"""Pass-rate charts (textual-plotext). The y axis spans the data, not 0–100 %: the story of a
tune is often 99.2 % against 100 % (a round broke one case, the next fixed it), which a 0–100
axis draws as one flat line. Ticks sit on the lowest and highest values, labelled finely
enough to tell them apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual_plotext import PlotextPlot

MIN_SPAN = 1.0  # percentage points shown at least: equal values still get an axis
COLOURS = ("blue+", "green+", "red+", "cyan+")  # per series: its pieces between gaps share one


def y_axis(values: list[float]) -> tuple[tuple[float, float], list[float], list[str]]:
    """(limits, ticks, tick labels) for values in percent."""
    if not values:
        return (0.0, 100.0), [0.0, 50.0, 100.0], ["0", "50", "100"]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, 0.1)
    top, bottom = min(100.0, high + pad), max(0.0, low - pad)
    if top - bottom < MIN_SPAN:
        bottom = max(0.0, top - MIN_SPAN)
        top = max(top, bottom + MIN_SPAN)
    span = high - low
    count = 1 if span == 0 else 3 if span < 5 else 5
    ticks = [low + span * i / max(1, count - 1) for i in range(count)]
    return (bottom, top), ticks, [f"{t:.2f}".rstrip("0").rstrip(".") for t in ticks]


class PassRateChart(PlotextPlot):
    """Baseline and new pass rate (in %) per point: rounds of a tune, or model versions. None is
    a value not known: a gap in the line (a 0 would read as every case failing)."""

    y_limits: tuple[float, float] = (0.0, 100.0)
    y_labels: list[str] = []

    def plot_rates(self, title: str, xlabel: str, labels: list[str],
                   series: Mapping[str, Sequence[float | None]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        self.y_limits, ticks, self.y_labels = y_axis([v * 100 for vs in series.values() for v in vs
                                                      if v is not None])
        plt.ylim(*self.y_limits)
        plt.yticks(ticks, self.y_labels)
        xs = [float(x) for x in range(1, len(labels) + 1)]
        for (name, values), colour in zip(series.items(), COLOURS, strict=False):
            pieces: list[list[tuple[float, float]]] = [[]]
            for x, value in zip(xs, values, strict=False):
                if value is None:
                    pieces.append([])
                else:
                    pieces[-1].append((x, value * 100))
            for n, piece in enumerate(p for p in pieces if p):
                plt.plot([x for x, _ in piece], [v for _, v in piece], label=name if not n else None,
                         color=colour, marker="braille")
        if len(xs) > 1:  # every label, also one at an end that has no value (a gap)
            plt.xlim(xs[0], xs[-1])
        if labels:
            plt.xticks(xs, labels)
        self.refresh()
