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


def build_parser() -> argparse.ArgumentParser:
    """The ``ferkit`` argument parser with every available subcommand."""
    from ferkit import __version__

    parser = argparse.ArgumentParser(
        prog="ferkit",
        description="Facial expression recognition that fits the scikit-learn ecosystem.",
    )
    parser.add_argument("--version", action="version", version=f"ferkit {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when a command fails"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"ferkit.cli._{name}")
        except ModuleNotFoundError as exc:  # a subcommand still being written
            if exc.name != f"ferkit.cli._{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv=None) -> int:
    """Run the ``ferkit`` command line; returns the exit status."""
    # TensorFlow's C++ start-up chatter buries the output a person wants to read.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
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
        print(f"ferkit {args.command}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
