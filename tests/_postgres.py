"""A throw-away PostgreSQL server for the tests: Debian's binaries, a temporary folder, a Unix
socket only (no TCP port), stopped at the end of the session.

The ``postgres_server`` and ``postgres_url`` fixtures in ``conftest.py`` use it. Where the
server cannot be found or started, :func:`start` says why and the tests that need it skip.
``.ci/run`` installs Debian's ``postgresql`` package when ``initdb`` is missing, so CI runs
them.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

#: The role the tests connect as (trust authentication, on the socket only).
USER = "ferkit"
#: Where Debian keeps the server binaries (they are not on PATH there).
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"


class Unavailable(Exception):
    """No server can be run here; the message says why (and becomes the skip reason)."""


def find_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's, newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).resolve().parent

    def version(folder: str) -> int:
        match = re.search(r"/(\d+)/bin$", folder)
        return int(match.group(1)) if match else 0

    for folder in sorted(glob.glob(DEBIAN_BINARIES), key=version, reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise Unavailable(
        "PostgreSQL server not found: no initdb on PATH or in /usr/lib/postgresql/*/bin "
        "(Debian: apt-get install postgresql; .ci/run installs it)"
    )


def _run_as() -> dict:
    """``subprocess`` keywords running the server as ``postgres`` when we are root.

    PostgreSQL refuses to run as root; CI runs the tests as root.
    """
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable(
            "running as root, and there is no 'postgres' user to run the server as "
            "(Debian's postgresql package creates it)"
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class Server:
    """A running server in ``folder``: ``url(database)`` for each database, ``stop()``."""

    def __init__(self, folder: Path, binaries: Path, run_as: dict):
        self.folder = folder
        self.binaries = binaries
        self.run_as = run_as
        self.data = folder / "data"
        self.socket_dir = folder  # the socket file is folder/.s.PGSQL.5432
        self.log = folder / "server.log"
        self._databases = 0

    def _run(self, *argv, timeout=120):
        return subprocess.run([str(self.binaries / argv[0]), *argv[1:]], capture_output=True,
                              text=True, timeout=timeout, cwd=self.folder, **self.run_as)

    def start(self) -> None:
        init = self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust",
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if init.returncode != 0:
            raise Unavailable(f"initdb failed: {(init.stderr or init.stdout)[-500:]}")
        # No TCP at all (listen_addresses=''); the socket in our own folder; durability off,
        # as the database is thrown away.
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=40")
        started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                            "-t", "60", "-o", options, "start")
        if started.returncode != 0:
            log = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            raise Unavailable(f"pg_ctl start failed: {started.stderr[-500:]} {log}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server, through its socket."""
        return f"postgresql://{USER}@/{database}?host={self.socket_dir}"

    def new_database(self, stem: str) -> str:
        """Create a fresh, empty database; its URL."""
        import psycopg

        self._databases += 1
        name = re.sub(r"\W", "_", stem.lower())[:40] + f"_{self._databases}"
        with psycopg.connect(host=str(self.socket_dir), user=USER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start() -> Server:
    """Start a server in a new temporary folder, or raise :class:`Unavailable`."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed (pip install 'ferkit[postgres]')") from None
    binaries = find_binaries()
    run_as = _run_as()
    # Under /tmp where there is one: the postgres user must reach the folder (a root-only
    # TMPDIR would not do), and the socket's path must stay short (about 100 bytes at most).
    folder = Path(tempfile.mkdtemp(prefix="ferkit-pg-",
                                   dir="/tmp" if os.access("/tmp", os.W_OK) else None))
    if run_as:
        os.chown(folder, run_as["user"], run_as["group"])
    server = Server(folder, binaries, run_as)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
