"""Every screen shows the repository as it is (issue 16): after the app's own actions, and when
another terminal changes it (the CLI runs here in the test, on the same repository, while the
app runs): the app watches refs, models.lock and the case files."""

from __future__ import annotations

from report_helpers import MODEL, merge_by_rule, rule_report
from textual.widgets import DataTable, Static, Tab
from tui_helpers import open_pull, plain, settle, until

from repo_store import batches, lockfile, reports
from tui import make_app
from tui.screens.cases import CasesScreen
from tui.screens.monitor import MonitorScreen
from tui.screens.pull import PullScreen

SIZE = (120, 40)
OTHER_MODEL = "sha256:" + "cd" * 32




def passing_batch(repo, model: str = MODEL) -> str:
    batch = batches.create_batch(repo)
    reports.write_report(repo, batch.id, rule_report(repo, batch.id, model=model))
    return batch.id


async def test_a_merge_from_another_terminal_shows_on_every_screen(demo_repo, cli) -> None:
    batch_id = passing_batch(demo_repo)
    held = batches.require_batch(demo_repo, batch_id).cases
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cases = app.screen
        assert isinstance(cases, CasesScreen)
        assert all(cases.index.held.get(c) == batch_id for c in held)
        await pilot.press("2")
        await settle(pilot)
        batches_screen = app.screen
        assert "20 already in open batches" in plain(batches_screen.query_one("#batch-status", Static))
        await pilot.press("5")
        await settle(pilot)
        monitor = app.screen
        assert "no production model yet" in plain(monitor.query_one("#monitor-head", Static))

        merge_by_rule(demo_repo, batch_id)  # "another terminal" (the CLI's merge would rerun a real model)

        head = monitor.query_one("#monitor-head", Static)
        assert await until(pilot, lambda: "production: sha256:abab" in plain(head))
        await pilot.press("1")
        await settle(pilot)
        def split_of(case_id: str) -> str:
            case = cases.index.get(case_id)
            assert case is not None
            return case.split

        assert await until(pilot, lambda: all(split_of(c) == "baseline" for c in held))
        assert "Pending (20)" in str(cases.query_one("#pending", Tab).label)
        await pilot.press("2")
        await settle(pilot)
        assert await until(pilot, lambda: "0 already in open batches"
                           in plain(batches_screen.query_one("#batch-status", Static)))


async def test_a_rollback_from_another_terminal_shows_on_the_monitor(demo_repo, cli) -> None:
    first = passing_batch(demo_repo, MODEL)
    merge_by_rule(demo_repo, first, model=MODEL)
    second = passing_batch(demo_repo, OTHER_MODEL)
    merge_by_rule(demo_repo, second, model=OTHER_MODEL)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        head = monitor.query_one("#monitor-head", Static)
        assert "production: sha256:cdcd" in plain(head)
        versions = monitor.query_one("#versions-table", DataTable)
        assert versions.row_count == 2

        result = cli("rollback", MODEL, "--force", repo=demo_repo.root)  # a rule model: not in the store
        assert result.exit_code == 0, result.output

        assert await until(pilot, lambda: "production: sha256:abab" in plain(head))
        assert await until(pilot, lambda: versions.row_count == 3)
        assert monitor.production is not None and monitor.production["model"] == MODEL
    lock = lockfile.read_lock(demo_repo)
    assert lock is not None and lock["model"] == MODEL


async def test_enter_on_the_list_opens_the_batch_that_just_appeared(demo_repo) -> None:
    old = passing_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PullScreen) and app.screen.batch_id == old
        await pilot.press("escape", "2")
        await settle(pilot)
        await pilot.press("o", "c")  # a new batch from the next 20 pending cases
        await settle(pilot)
        (new,) = [b.id for b in batches.open_batches(demo_repo) if b.id != old]
        await pilot.press("3", "enter")  # at once, as a person types it
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, PullScreen) and app.screen.batch_id == new


async def test_a_batch_created_elsewhere_takes_the_cursor_on_the_list(demo_repo) -> None:
    old = passing_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#pulls-table", DataTable)
        assert table.row_count == 1
        new = batches.create_batch(demo_repo).id  # another terminal
        assert await until(pilot, lambda: table.row_count == 2)
        assert table.coordinate_to_cell_key(table.cursor_coordinate)[0].value == new != old


async def test_a_pull_request_rejected_elsewhere_says_so_and_closes(demo_repo, cli) -> None:
    batch_id = passing_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch_id)
        result = cli("reject", batch_id, "--reason", "duplicates", repo=demo_repo.root)
        assert result.exit_code == 0, result.output
        head = pr.query_one("#pr-head", Static)
        assert await until(pilot, lambda: "rejected" in plain(head))
        assert not pr.check_action("merge", ()) and not pr.check_action("tune", ())
        assert not [n for n in app._notifications if n.severity == "error"]


def test_what_counts_as_a_repository_change(demo_repo) -> None:
    from repo_store.changes import is_repo_change, watch_roots

    root, git_dir = demo_repo.root.resolve(), demo_repo.git_dir.resolve()
    assert watch_roots(demo_repo) == [root]  # a plain clone: the git dir is inside the work tree
    assert is_repo_change(demo_repo, git_dir / "refs" / "heads" / "main")
    assert is_repo_change(demo_repo, git_dir / "packed-refs")
    assert is_repo_change(demo_repo, root / "models.lock")
    assert is_repo_change(demo_repo, root / "cases" / "pending" / "c-1.json")
    assert not is_repo_change(demo_repo, git_dir / "refs" / "heads" / "main.lock")  # still being written
    assert not is_repo_change(demo_repo, git_dir / "objects" / "ab" / "cdef")
    assert not is_repo_change(demo_repo, root / ".straw" / "models" / "x.safetensors")


def test_a_watcher_that_cannot_watch_says_so(make_case_repo) -> None:
    import shutil
    import threading

    from tui.watcher import RepoWatcher

    repo = make_case_repo("doomed")
    shutil.rmtree(repo.root)  # the folder went away under the app
    told: list[str] = []
    done = threading.Event()

    def failed(why: str) -> None:
        told.append(why)
        done.set()

    watcher = RepoWatcher(repo, lambda: None, failed)
    watcher.start()
    assert done.wait(10)
    watcher.close()
    assert "not watching" in told[0] and "press r" in told[0]
