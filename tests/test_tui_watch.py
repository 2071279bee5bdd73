"""The watch split and the flips in the TUI (issue 14), driven by Textual's Pilot on real case
repositories: a Watch tab curated like pending, and a pull request's flips against production."""

from __future__ import annotations

import json

from report_helpers import memorizer, rule_report
from textual.widgets import DataTable, Input, Static, TabbedContent, Tabs, TextArea
from tui_helpers import open_pull, plain, settle

from repo_store import batches, curation, lockfile, reports
from repo_store.cases import Case, case_path
from repo_store.flips import flips
from repo_store.repo import CaseRepo
from tui import make_app
from tui.dialogs.case_form import CaseForm
from tui.dialogs.confirm import Confirm
from tui.screens.cases import CasesScreen
from tui.widgets.case_table import CaseTable

SIZE = (120, 40)


async def test_the_watch_tab_lists_adds_edits_deletes_and_undoes_watch_cases(demo_repo) -> None:
    repo = demo_repo
    kept = curation.add_case(repo, split="watch", input="is my card frozen", expected="card",
                             match="label")
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await pilot.press("s", "s")  # pending → baseline → watch
        await pilot.pause()
        assert screen.split == "watch"
        active = screen.query_one(Tabs).active_tab
        assert active is not None and str(active.label) == "Watch (1)"
        table = screen.query_one("#cases-table", DataTable)
        assert [str(k.value) for k in table.rows] == [kept.id]

        await pilot.press("a")  # on the Watch tab, a new case lands in watch
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CaseForm) and "Add a watch case" in plain(form.query_one(Static))
        form.query_one("#f-input", TextArea).text = "has my parcel left the depot"
        form.query_one("#f-expected", Input).value = "shipping"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.split == "watch" and app.screen is screen  # `is` would narrow screen to Screen
        watch = [c for c in repo.load().cases if c.split == "watch"]
        added = next(c for c in watch if c.id != kept.id)
        assert added.text == "has my parcel left the depot"
        assert (repo.root / case_path("watch", added.id)).is_file()
        assert not (repo.root / case_path("pending", added.id)).exists()
        assert table.row_count == 2

        screen.query_one(CaseTable).select_id(added.id)
        await pilot.press("e")
        await pilot.pause()
        assert "Edit watch case" in plain(app.screen.query_one(Static))
        app.screen.query_one("#f-source", Input).value = "ticket ZD-9"
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = json.loads((repo.root / case_path("watch", added.id)).read_text())
        assert stored["source"] == "ticket ZD-9"

        screen.query_one(CaseTable).select_id(added.id)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert not (repo.root / case_path("watch", added.id)).exists()
        await pilot.press("u")
        await settle(pilot)
        assert (repo.root / case_path("watch", added.id)).is_file()  # back in watch, not pending
        assert not (repo.root / case_path("pending", added.id)).exists()


def flipped_report(repo: CaseRepo) -> tuple[str, Case, Case, Case, list[Case]]:
    """A batch whose report's model breaks a watch case and a baseline case the production model
    (main's models.lock) passed, and fixes a baseline case production failed (written on the
    branch): (batch id, the watch case, the broken and the fixed baseline case, the baseline)."""
    watch = curation.add_case(repo, split="watch", input="is my card frozen", expected="card",
                              match="label")
    production = "sha256:" + "cd" * 32
    lockfile.commit_lock(repo, {"model": production, "backend": "classifier", "base": "embedded",
                                "batch": None, "promoted": "2026-01-02T00:00:00Z",
                                "reason": "bootstrap"}, "production")
    batch_id = batches.create_batch(repo).id
    baseline = [c for c in repo.load().cases if c.split == "baseline"]
    broken, fixed = baseline[0], baseline[1]
    report = rule_report(repo, batch_id, lambda c: "wrong" if c.id == broken.id else memorizer(c))
    report["cases"].append({"id": watch.id, "split": "watch", "expected": "card",
                            "predicted": "refund", "pass": False})
    before = [{"id": r["id"], "split": r["split"], "expected": r["expected"],
               "predicted": "old-miss" if r["id"] == fixed.id else r["expected"],
               "pass": r["id"] != fixed.id} for r in report["cases"] if r["split"] != "new"]
    for row in before:
        if row["id"] == watch.id:
            row.update(predicted="card", **{"pass": True})
    report["flips"] = flips(production, before, report["cases"])
    report["interpolation"] = {"lambda": 0.4, "grid": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "tried": [
        {"lambda": 0.4, "passed": True, "watch_negative_flips": 1, "watch_passed": 0},
        {"lambda": 1.0, "passed": True, "watch_negative_flips": 3, "watch_passed": 0}]}
    report["bias_correction"] = {"fraction": 0.5, "shifts": {"card": 1.25}, "tried": [
        {"fraction": f, "passed": True, "watch_negative_flips": n, "watch_passed": 0}
        for f, n in ((0.0, 2), (0.25, 2), (0.5, 1), (0.75, 1), (0.9, 1))]}
    reports.write_report(repo, batch_id, report)
    return batch_id, watch, broken, fixed, baseline


async def test_a_pull_request_shows_its_flips_against_production(demo_repo) -> None:
    """The Flips tab lists each flip with both predictions, negative first, with NFR, McNemar's
    p and the too-few-pairs note."""
    batch_id, watch, broken, fixed, baseline = flipped_report(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch_id)
        tabs = pr.query_one("#pr-tabs", TabbedContent)
        await pilot.press("right_square_bracket", "right_square_bracket")  # Diff → Report → Flips
        assert tabs.active == "tab-flips"
        await pilot.press("left_square_bracket")
        assert tabs.active == "tab-report"
        await pilot.press("right_square_bracket")
        await pilot.pause()
        from tui.screens.help import bindings_table

        help_keys = [str(cell) for cell in bindings_table(pr).columns[0].cells]
        assert "]" in help_keys and "[" in help_keys  # listed by `?`, not hidden by the tab bar's
        summary = plain(pr.query_one("#pr-flips-summary", Static))
        assert "flips vs production sha256:cdcdcdcdcdcd" in summary
        assert "watch: 1 negative flip, 0 positive of 1 (NFR 100.0%, McNemar p = 1)" in summary
        assert f"baseline: 1 negative flip, 1 positive of {len(baseline)}" in summary
        assert f"broken: {broken.id}" in summary
        assert "too few for McNemar's test" in summary
        assert ("interpolation: kept λ = 0.4 (1 watch negative flip, 0 watch cases right); the "
                "tuned model, λ = 1: 3 watch negative flips") in summary
        assert ("bias correction of card: kept 0.5 of the smallest margin (1 watch negative "
                "flip, 0 watch cases right); uncorrected: 2 watch negative flips") in summary
        table = pr.query_one("#pr-flips", DataTable)
        rows = [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)]
                for i in range(table.row_count)]
        assert [r[:3] for r in rows] == [["✗ worse", "watch", watch.id],
                                         ["✗ worse", "baseline", broken.id],
                                         ["✓ better", "baseline", fixed.id]]
        assert rows[0][3:] == ["card", "card", "refund"]  # expected, production, this model
        assert rows[2][4:] == ["old-miss", str(fixed.expected)]


async def test_f_promotes_the_watch_flips_into_pending_and_the_batch_goes_stale(demo_repo
                                                                                ) -> None:
    """The flip ledger's promote from the pull request (`straw flips BATCH --promote`'s library
    call): asks first, moves the flipped watch case into pending with its provenance, and the
    gate then sends the batch back for an update and a tune."""
    batch_id, watch, _, _, _ = flipped_report(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch_id)
        assert pr.check_action("promote_flips", ()) is True
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        assert f"Move 1 watch case this model breaks into pending?\n{watch.id}" in \
            plain(app.screen.query_one(Static))
        await pilot.press("y")
        await settle(pilot)
        assert not (demo_repo.root / case_path("watch", watch.id)).exists()
        moved = json.loads((demo_repo.root / case_path("pending", watch.id)).read_text())
        assert moved["meta"]["flip"]["batch"] == batch_id
        assert moved["meta"]["flip"]["candidate_predicted"] == "refund"
        assert "main's watch cases changed" in plain(pr.query_one("#pr-gate", Static))
        assert pr.check_action("promote_flips", ()) is False  # stale: nothing left to promote


async def test_a_report_without_a_production_model_says_why_there_are_no_flips(demo_repo) -> None:
    batch_id = batches.create_batch(demo_repo).id
    reports.write_report(demo_repo, batch_id, rule_report(demo_repo, batch_id))
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch_id)
        assert "no production model to compare with" in plain(pr.query_one("#pr-flips-summary",
                                                                             Static))
        assert pr.query_one("#pr-flips", DataTable).row_count == 0
        assert pr.check_action("promote_flips", ()) is False  # nothing to promote: no key
