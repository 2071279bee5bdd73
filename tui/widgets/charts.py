"""Pass-rate charts (textual-plotext)."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class PassRateChart(PlotextPlot):
    """Baseline and new pass rate (in %) per point: rounds of a tune, or model versions."""

    def plot_rates(self, title: str, xlabel: str, labels: list[str], series: dict[str, list[float]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        plt.ylim(0, 100)
        xs = list(range(1, len(labels) + 1))
        for name, values in series.items():
            if values:
                plt.plot(xs, [v * 100 for v in values], label=name, marker="braille")
        if labels:
            plt.xticks(xs, labels)
        self.refresh()
