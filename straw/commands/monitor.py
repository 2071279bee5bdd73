"""Placeholder until its issue lands."""

import click


def register(group: click.Group) -> None:
    pass
