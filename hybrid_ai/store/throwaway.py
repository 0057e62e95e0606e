"""Throwaway PostgreSQL and Redis servers on 127.0.0.1, for the tests and the benchmarks: a temporary data folder,
a free port, stopped (and the folder removed) on exit. They need Debian's `postgresql` (its `initdb` and
`pg_ctl`, found in /usr/lib/postgresql/*/bin when not on PATH) and `redis-server`; `.ci/run` installs both.

PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user that Debian's package creates.

    with throwaway.postgres() as pg:      # pg.url: postgresql://hybrid@127.0.0.1:PORT/hybrid
        ...
        pg.restart()                      # the same data, the same port
    with throwaway.redis() as r:          # r.url: redis://127.0.0.1:PORT/0
        ..."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return found


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait(port: int, proc_alive, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if not proc_alive():
                break
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


class Postgres:
    def __init__(self, folder: Path):
        self.folder, self.data, self.port = folder, folder / "data", free_port()
        self.url = f"postgresql://hybrid@127.0.0.1:{self.port}/hybrid"
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run([*_as_server_user(), _pg_bin("initdb"), "-D", str(self.data), "-U", "hybrid", "-A", "trust",
                        "--no-sync", "-E", "UTF8", "--locale", "C"], check=True, capture_output=True)
        self.start()
        subprocess.run([*_as_server_user(), _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "hybrid", "hybrid"], check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        subprocess.run([*_as_server_user(), _pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-s", *args],
                       check=True, capture_output=True)

    def start(self) -> None:
        opts = (f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c max_connections=200")
        self._ctl("-l", str(self.folder / "server.log"), "-o", opts, "start")
        _wait(self.port, lambda: True, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


def postgres():
    """A throwaway PostgreSQL (`Postgres`), stopped and its folder removed on exit."""
    return _running(Postgres, "hybrid-ai-pg-")


class Redis:
    def __init__(self, folder: Path):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(exe):
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(folder),
                                      "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _wait(self.port, lambda: self.proc.poll() is None, "Redis")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def redis():
    """A throwaway Redis (`Redis`), stopped and its folder removed on exit."""
    return _running(Redis, "hybrid-ai-redis-")


@contextmanager
def _running(server, prefix: str) -> Iterator:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    running = None
    try:
        running = server(folder)
        yield running
    finally:
        if running is not None:
            running.close()
        shutil.rmtree(folder, ignore_errors=True)
