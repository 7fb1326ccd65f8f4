"""The ``ferkit`` command line: argparse subcommands, each a thin layer over the library.

Each subcommand lives in its own module ``ferkit/cli/_<name>.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``.

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, ``--debug`` shows the
traceback); 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

_SUBCOMMANDS = ("demo", "train", "evaluate", "predict", "tune", "info")

#: Errors that mean "the user's input or usage was wrong" and exit with status 2.
INPUT_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, NotADirectoryError,
                IsADirectoryError, KeyError)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (argparse prints the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``ferkit`` argument parser with every available subcommand."""
    from ferkit import __version__

    parser = _Parser(
        prog="ferkit",
        description="Facial expression recognition that fits the scikit-learn ecosystem.",
    )
    parser.add_argument("--version", action="version", version=f"ferkit {__version__}")
    _add_debug_flag(parser, default=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"ferkit.cli._{name}")
        except ModuleNotFoundError as exc:  # a subcommand still being written
            if exc.name != f"ferkit.cli._{name}":
                raise
            continue
        module.register(subparsers)
    # --debug also after the subcommand, where people add it on rerunning a failed command.
    # Deduplicated: a subcommand with aliases appears once per name but is one parser.
    for subparser in {id(p): p for p in subparsers.choices.values()}.values():
        _add_debug_flag(subparser, default=argparse.SUPPRESS)
    return parser


def _add_debug_flag(parser, *, default) -> None:
    """Add ``--debug`` to ``parser``.

    A subcommand's copy defaults to ``argparse.SUPPRESS``: argparse copies every value the
    subcommand's parser sets onto the top-level namespace, so a default there would reset
    a ``--debug`` given before the subcommand.
    """
    parser.add_argument(
        "--debug", action="store_true", default=default,
        help="show the full traceback when a command fails",
    )


def main(argv=None) -> int:
    """Run the ``ferkit`` command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0): a status, always
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    # TensorFlow's C++ log lines (such as the graph notices it prints while training) bury
    # the output a person wants to read; --debug keeps its warnings and errors. Python
    # exceptions are reported either way. Set before TensorFlow is imported (parsing does
    # not import it). The oneDNN notice TensorFlow prints as it loads ignores a level set
    # from inside the process: only TF_CPP_MIN_LOG_LEVEL=3 in the shell hides it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if args.debug else "3")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ferkit: interrupted", file=sys.stderr)
        return 1
    except INPUT_ERRORS as exc:
        if args.debug:
            traceback.print_exc()
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"ferkit {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        message = str(exc).splitlines()[0] if str(exc) else ""
        print(f"ferkit {args.command}: failed: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
