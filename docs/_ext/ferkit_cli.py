"""Render the ``ferkit`` command line's ``--help`` texts into the docs at build time.

The help texts come from :func:`ferkit.cli.build_parser`, so the page always shows the
subcommands and options the installed ferkit really has.

``.. ferkit-cli-help::`` renders ``ferkit --help``; ``.. ferkit-cli-help:: train`` renders
``ferkit train --help``; ``.. ferkit-cli-commands::`` renders, for every registered
subcommand, a heading, its one-line summary and its ``--help``.
"""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

#: Width of the rendered help texts (argparse reads it from $COLUMNS).
WIDTH = 90


@contextmanager
def _columns(width: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """``{name: (summary, parser)}`` of every subcommand, in registration order."""
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return {name: (helps.get(name, ""), sub) for name, sub in action.choices.items()}
    return {}


def _help(command: str | None) -> str:
    from ferkit.cli import build_parser

    with _columns(WIDTH):
        parser = build_parser()
        if command is None:
            return parser.format_help()
        commands = _subparsers(parser)
        if command not in commands:
            raise ValueError(
                f"ferkit has no subcommand {command!r}; it has {sorted(commands)}."
            )
        return commands[command][1].format_help()


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


class CliHelp(SphinxDirective):
    """``.. ferkit-cli-help:: [COMMAND]``: the help text of ferkit or one subcommand."""

    optional_arguments = 1

    def run(self):
        command = self.arguments[0] if self.arguments else None
        try:
            text = _help(command)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        return [_literal(text)]


class CliCommands(SphinxDirective):
    """``.. ferkit-cli-commands::``: every subcommand with its summary and help text."""

    def run(self):
        from ferkit.cli import build_parser

        with _columns(WIDTH):
            commands = _subparsers(build_parser())
            out = []
            for name, (summary, parser) in commands.items():
                out.append(nodes.rubric("", "", nodes.literal("", f"ferkit {name}")))
                if summary:
                    out.append(nodes.paragraph("", summary[:1].upper() + summary[1:] + "."))
                out.append(_literal(parser.format_help()))
        return out


def setup(app):
    app.add_directive("ferkit-cli-help", CliHelp)
    app.add_directive("ferkit-cli-commands", CliCommands)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
