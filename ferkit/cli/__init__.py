"""The ``ferkit`` command line: argparse subcommands, each a thin layer over the library.

Each subcommand lives in its own module ``ferkit/cli/_<name>.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``.

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, ``--debug`` shows the
traceback); 1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import threading
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
    # not import it).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if args.debug else "3")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # Whether a person watches stderr, asked before the filter below points it at a pipe
    # (progress bars are drawn only for a terminal).
    args.stderr_tty = sys.stderr.isatty()
    quiet = contextlib.nullcontext() if args.debug else _without_native_noise()
    with quiet:
        return _run(args)


def _run(args) -> int:
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


#: Lines TensorFlow's C++ side writes to the process's stderr as it loads, whatever
#: TF_CPP_MIN_LOG_LEVEL says (measured with TensorFlow 2.21: the oneDNN and CPU-feature
#: notices, and absl's warning about logging before its initialisation): absl-format INFO
#: and WARNING lines, and the continuation line of the CPU-feature notice.
_NATIVE_NOISE = re.compile(
    rb"^(?:[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow)"
)


@contextlib.contextmanager
def _without_native_noise():
    """Drop TensorFlow's start-up log lines from file descriptor 2 while a command runs.

    They are written by C++ code straight to the descriptor, so neither ``sys.stderr`` nor
    Python's logging sees them: the descriptor is pointed at a pipe for the command's
    duration, and a thread passes every other line on to the real stderr, in order.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:  # pragma: no cover - no descriptor 2 (a detached process): nothing to hide
        yield
        return
    caught_up = threading.Event()
    thread = threading.Thread(target=_pass_on, args=(read_end, real, caught_up), daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        # The mark follows everything this process wrote; once the thread has read it, all
        # of that is on the real stderr. Waiting for the pipe's end instead would also wait
        # for the child processes that inherited it (joblib's workers and its resource
        # tracker keep it open until they exit: 10 s per command, measured). The thread
        # closes ``real`` when the pipe ends: what children write until then is passed on.
        os.write(2, _CAUGHT_UP)
        os.dup2(real, 2)
        caught_up.wait(timeout=10)


#: Written by the command to the pipe as it ends: the line that tells the thread it is done.
_CAUGHT_UP = b"\0ferkit: end of the command's stderr\0\n"


def _pass_on(read_end: int, real: int, caught_up: threading.Event) -> None:
    try:
        _copy_lines(read_end, real, caught_up)
    finally:
        caught_up.set()
        os.close(real)


def _copy_lines(read_end: int, real: int, caught_up: threading.Event) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            # A carriage return ends a line too: progress bars redraw with "\r" and must
            # show as they go, not when a newline finally comes.
            *lines, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
            kept = b"".join(line for line in lines
                            if line != _CAUGHT_UP and not _NATIVE_NOISE.match(line))
            if kept:
                os.write(real, kept)
            if _CAUGHT_UP in lines:
                caught_up.set()
    if pending and not _NATIVE_NOISE.match(pending):
        os.write(real, pending)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
