"""Ctrl-C for command-line tests: a ``ferkit`` child process interrupted as a terminal would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable


def start_ferkit(args: list[str]) -> subprocess.Popen:
    """``python -m ferkit ARGS`` in a child whose stderr is kept and stdout dropped.

    The child gets SIGINT's default action, as from a terminal: a child inherits an ignored
    SIGINT (and Python then keeps ignoring it), which an earlier test's library can leave in
    this process.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "ferkit", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def interrupt_when(proc: subprocess.Popen, ready: Callable[[], bool], *, wait: float,
                   drain: float) -> tuple[bool, str]:
    """Send SIGINT once ``ready()`` (or after ``wait`` seconds); the child then has ``drain``
    seconds to end. Returns whether it was still running when interrupted, and its stderr;
    the child is killed in any case."""
    try:
        deadline = time.monotonic() + wait
        while proc.poll() is None and time.monotonic() < deadline and not ready():
            time.sleep(0.1)
        running = proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=drain)
    finally:
        proc.kill()
    return running, err
