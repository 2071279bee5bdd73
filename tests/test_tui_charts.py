"""The Rounds chart (issue 16): its y axis spans the data, so 99.2 % against 100 % is visible."""

from __future__ import annotations

from report_helpers import rule_report
from tui_helpers import open_pull

from repo_store import batches, reports
from tui import make_app
from tui.widgets.charts import PassRateChart, y_axis


def test_the_axis_zooms_to_the_data_and_labels_its_ends() -> None:
    (bottom, top), ticks, labels = y_axis([100.0, 99.2, 100.0])
    assert 98.5 <= bottom < 99.2 and top == 100.0
    assert labels[0] == "99.2" and labels[-1] == "100"
    (bottom, top), _, labels = y_axis([100.0, 100.0])
    assert top - bottom >= 1.0 and labels == ["100"]
    assert y_axis([])[0] == (0.0, 100.0)


async def test_the_rounds_tab_shows_a_broken_then_fixed_round(demo_repo) -> None:
    batch = batches.create_batch(demo_repo)
    report = rule_report(demo_repo, batch.id)
    report["rounds"] = [{"round": 1, "loss": 0.5, "baseline_pass": 1.0, "new_pass": 1.0, "seconds": 1.0},
                        {"round": 2, "loss": 0.3, "baseline_pass": 0.992, "new_pass": 1.0, "seconds": 1.0},
                        {"round": 3, "loss": 0.2, "baseline_pass": 1.0, "new_pass": 1.0, "seconds": 1.0}]
    reports.write_report(demo_repo, batch.id, report)
    app = make_app(demo_repo.root)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = (await open_pull(pilot, batch.id)).query_one(PassRateChart)
        bottom, top = chart.y_limits
        assert 98.5 <= bottom < 99.2 and top == 100.0  # not 0-100: the dip of round 2 shows
        assert chart.y_labels[0] == "99.2" and chart.y_labels[-1] == "100"
        drawn = chart.plt.build()
        assert "99.2" in drawn and "100" in drawn
