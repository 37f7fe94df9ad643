"""A throw-away PostgreSQL + PostGIS server for the tests (Debian's ``postgresql`` and ``postgresql-postgis``).

:func:`start` runs ``initdb`` into a fresh folder and ``pg_ctl start`` on a free port of 127.0.0.1 only
(no Unix socket), with password (SCRAM) logins for one superuser; as root it runs the server as the
``postgres`` system user through ``runuser`` (PostgreSQL refuses to run as root). :meth:`Server.stop`
stops it and deletes the folder. When the binaries or PostGIS are missing, :class:`Unavailable` says
why (the tests skip with that reason locally, and fail under CI, which must run them).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "geofupin_test"
PASSWORD = "Pg-s3cret-7f1c9e"  # the tests grep every output for it
DATABASE = "geofupin_test"


class Unavailable(RuntimeError):
    """PostgreSQL with PostGIS cannot be started here (the message says why)."""


@dataclass
class Server:
    bindir: Path
    datadir: Path
    port: int
    runas: list[str]

    def url(self, *, password: bool = True, database: str = DATABASE) -> str:
        auth = f"{USER}:{PASSWORD}" if password else USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [*self.runas, str(self.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), "-m", "fast", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.datadir, ignore_errors=True)


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "pg_ctl").is_file():
        return Path(found).resolve().parent  # /usr/local/bin/initdb may be a link into /usr/lib/postgresql/N/bin
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name or 0))
    for d in reversed(dirs):
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
    raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], what: str) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    if res.returncode != 0:
        raise Unavailable(f"{what} failed ({res.returncode}): {(res.stderr or res.stdout).strip()[-800:]}")


def start() -> Server:
    """Start a server (see the module docstring); raise :class:`Unavailable` when it cannot be."""
    bindir = _bindir()
    share = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False)
    sharedir = Path(share.stdout.strip()) if share.returncode == 0 else None
    if sharedir is None or not (sharedir / "extension" / "postgis.control").is_file():
        raise Unavailable("PostGIS is not installed for this PostgreSQL: apt-get install postgresql-postgis")
    runas: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="geofupin-pg-"))
    try:
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as the postgres system user
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no 'postgres' system user to run the server") from None
            if shutil.which("runuser") is None:
                raise Unavailable("running as root and 'runuser' is missing (util-linux)")
            os.chown(folder, pw.pw_uid, pw.pw_gid)
            runas = ["runuser", "-u", "postgres", "--"]
        pwfile = folder / "pw"
        pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
        if runas:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        data = folder / "data"
        _run(
            [*runas, str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
            "initdb",
        )  # fmt: skip
        pwfile.unlink()
        for attempt in range(3):
            port = _free_port()
            opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c fsync=off"
            res = subprocess.run(
                [*runas, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", opts,
                 "-w", "-t", "60", "start"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if res.returncode == 0:
                break
            time.sleep(0.5 * (attempt + 1))
        else:
            log = (folder / "server.log").read_text(errors="replace")[-800:] if (folder / "server.log").exists() else ""
            raise Unavailable(f"pg_ctl start failed: {res.stderr.strip()[-400:]} {log}")
        server = Server(bindir=bindir, datadir=folder, port=port, runas=runas)
        try:
            _prepare(server)
        except Exception:
            server.stop()
            raise
        return server
    except BaseException:
        if not any(folder.glob("data/postmaster.pid")):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _prepare(server: Server) -> None:
    """Create the test database with PostGIS."""
    import psycopg

    with psycopg.connect(server.url(database="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
