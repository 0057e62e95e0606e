"""A writer's spool: the records a process has answered, on local disk, until the database has them.

A record is appended to the spool file on the request's thread (one `write` call: in the kernel's hands when the
response is sent, so a `kill -9` of the process loses nothing), and the flusher (pg_sink.py) copies the spool to
PostgreSQL in batches, committing in the same transaction how far it got (`spool_acks`). Each process writes
its own segments (`<token>-<n>.spool`, 16 MiB each), holding an exclusive `flock` on each while it lives; a
segment whose lock is free belongs to a process that died, and any writer on the same folder adopts it and
copies what the database does not have yet (exactly once: the offset is read from the database)."""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from pathlib import Path

SEGMENT_BYTES = 16 * 1024 * 1024


class Segment:
    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd
        self.name = path.name

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self, offset: int, limit: int) -> bytes:
        return os.pread(self.fd, limit, offset)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.fd)


def _lock(path: Path, create: bool) -> int | None:
    """The file's descriptor with our exclusive lock on it, or None when another living process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Spool:
    """This process's segments in `folder` (written to), and the orphans it adopts (read only)."""

    def __init__(self, folder: str | Path, max_bytes: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._n = 0
        self._lock = threading.Lock()
        self.segments: list[Segment] = []  # own, oldest first; the last one is written to
        self._new_segment()

    def _new_segment(self) -> Segment:
        self._n += 1
        path = self.folder / f"{self.token}-{self._n:06d}.spool"
        fd = _lock(path, create=True)
        assert fd is not None  # a new file of our own
        seg = Segment(path, fd)
        self.segments.append(seg)
        return seg

    def append(self, line: bytes) -> bool:
        """Append one record (a JSON line); False (nothing written) when the spool is at `max_bytes`."""
        with self._lock:
            seg = self.segments[-1]
            size = seg.size()
            if size >= SEGMENT_BYTES:
                seg = self._new_segment()
                size = 0
            if size + len(line) + sum(s.size() for s in self.segments[:-1]) > self.max_bytes:
                return False
            os.write(seg.fd, line)
            return True

    def pending_bytes(self, acked: dict[str, int]) -> int:
        return sum(s.size() - acked.get(s.name, 0) for s in self.segments)

    def retire(self, seg: Segment) -> None:
        """Remove a segment the database has whole (never the one being written to)."""
        with self._lock:
            if seg is self.segments[-1]:
                return
            self.segments.remove(seg)
        seg.remove()

    def orphans(self) -> list[Segment]:
        """Segments in the folder whose writer died (their lock is free), now locked by us."""
        own = {s.name for s in self.segments}
        out = []
        for path in sorted(self.folder.glob("*.spool")):
            if path.name in own:
                continue
            fd = _lock(path, create=False)
            if fd is not None:
                out.append(Segment(path, fd))
        return out

    def close(self, keep: bool) -> None:
        """Release the segments: removed when the database has them (`keep` False), else left for adoption."""
        with self._lock:
            for seg in self.segments:
                if keep:
                    os.close(seg.fd)
                else:
                    seg.remove()
            self.segments = []
