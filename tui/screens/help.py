"""`?`: every key of the screen below, with what it does. The screen's own keys come first, all
of them, those that do not apply at the moment dimmed and marked; then straw's keys that work
everywhere; Textual's generic keys (the focused table's or field's navigation) last, only those
that work now and that no straw key shadows."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.widgets.footer import StrawFooter

NOT_NOW = "not now"


@dataclass
class KeyRow:
    binding: Binding
    available: bool
    rank: int  # the focused widget's generic keys before the screen's and the app's (tab, copy)
    keys: list[tuple[bool, str]] = field(default_factory=list)  # (hidden from the footer, key)

    @property
    def shown_keys(self) -> str:
        return ", ".join(dict.fromkeys(key for _, key in sorted(self.keys)))  # the footer's first


def declared_by_straw(node: DOMNode, binding: Binding) -> bool:
    """Whether one of straw's classes declares `binding` (not a Textual widget it builds on)."""
    return any(binding in Binding.make_bindings(cls.__dict__.get("BINDINGS", []))
               for cls in type(node).__mro__ if not cls.__module__.startswith("textual"))


def key_rows(screen: Screen) -> tuple[list[KeyRow], list[KeyRow]]:
    """straw's rows (the screen's keys, its widgets', then the app's) and Textual's generic rows;
    keys bound to the same action on the same node share a row ("q, ^q")."""
    app = screen.app
    chain = screen._modal_binding_chain  # focused widget .. screen, app: where keys go now
    order = {id(screen): 0, id(app): 2}  # the screen's first: a key it binds hides a generic one
    own: dict[tuple[int, str], KeyRow] = {}
    generic: dict[tuple[int, str], KeyRow] = {}
    taken: set[str] = set()
    for node, bindings in sorted(chain, key=lambda pair: order.get(id(pair[0]), 1)):
        for key, binding in bindings:
            if not binding.description or binding.action == "command_palette":
                continue
            state = app._check_action_state(binding.action, node)  # the node's check_action
            ours = declared_by_straw(node, binding)
            if not ours and (not state or key in taken):
                continue  # a generic key only where it works now and no straw key shadows it
            taken.add(key)
            rank = {id(screen): 1, id(app): 2}.get(id(node), 0)
            row = (own if ours else generic).setdefault((id(node), binding.action),
                                                        KeyRow(binding, bool(state), rank))
            row.keys.append((not binding.show, binding.key_display or app.get_key_display(binding)))
    return list(own.values()), sorted(generic.values(), key=lambda row: row.rank)


def bindings_table(screen: Screen) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True)
    table.add_column("key", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("what it does", ratio=1)
    own, generic = key_rows(screen)
    palette = KeyRow(Binding("ctrl+p", "command_palette", "Commands",
                             tooltip="The command palette: every action by name"), True, 2, [(False, "^p")])
    for row in [*own, palette, *generic]:
        style = "" if row.available else "dim"
        action = Text(row.binding.description, style=style)
        if not row.available:
            action.append(f" ({NOT_NOW})", style="dim italic")
        table.add_row(Text(row.shown_keys, style=style), action,
                      Text(row.binding.tooltip or "", style=style))
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen .dialog { max-width: 100%; }  /* 80 columns: the 100-wide dialog fits, text wraps */
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", tooltip="Back")]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            title = getattr(self.below, "HELP_TITLE", type(self.below).__name__)
            yield Static(Text(f"Help — {title}", style="bold"), classes="question")
            intro = getattr(self.below, "HELP", "")
            if intro:
                yield Static(Text(intro))
            yield Static(bindings_table(self.below))
        yield StrawFooter()

    def action_close(self) -> None:
        self.dismiss(None)
