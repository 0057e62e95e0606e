"""The folder of converted models (HYBRID_AI_CACHE/models): content keys, use times, its bound, and building a
conversion once (`built_once`: in a hidden folder, renamed into place when complete).

Before a new conversion is written, the least recently used conversions are removed until all of them together
fit in HYBRID_AI_CACHE_MAX_GB (default 20) with room for the new one; a conversion that this process or another
one has loaded is never removed under it (another process's is known by its shared lock on the folder's `.in-use`
file, POSIX only). Files in the folder (the eval's answer cache) are not conversions and are never removed."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import BackendError

DEFAULT_MAX_GB = 20.0
_DIGESTS: dict[tuple, str] = {}
_IN_USE: set[Path] = set()  # conversions this process loaded: never evicted under it
IN_USE_LOCK = ".in-use"  # a process that loaded a conversion holds a shared lock on this file in it (POSIX)
_HELD: dict[Path, int] = {}  # those lock files' descriptors, open for the life of the process


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest(path: Path) -> str:
    """A file's content hash (SHA-256; about 0.1 s for the bundled 98 MB GGUF), once per process per version of
    the file."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _sha256(path)
    return _DIGESTS[key]


def failure(e: Exception, folder: Path) -> str:
    """Why a conversion into `folder` failed, in words; a full disk says how much is free and what to do."""
    if getattr(e, "errno", None) == errno.ENOSPC or "No space left on device" in str(e):
        free = shutil.disk_usage(folder).free / 2**20 if folder.exists() else 0
        return (f"the disk is full ({free:,.0f} MiB free; set HYBRID_AI_CACHE to a larger disk, or "
                f"HYBRID_AI_CACHE_MAX_GB lower to keep fewer conversions)")
    return f"{type(e).__name__}: {str(e)[:300]}"


def cache_dir() -> Path:
    """Where converted models live (HYBRID_AI_CACHE/models, default ~/.cache/hybrid-ai/models)."""
    return Path(os.environ.get("HYBRID_AI_CACHE", Path.home() / ".cache" / "hybrid-ai")) / "models"


def cache_root() -> Path:
    return cache_dir().resolve()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def used(folder: Path) -> Path:
    """Mark a conversion as just used (its folder's time; the eviction order) and in use by this process."""
    real = folder.resolve()
    _IN_USE.add(real)
    _hold(real)
    try:
        os.utime(folder)
    except OSError:
        pass  # a read-only cache still serves
    return folder


def _hold(folder: Path) -> None:
    """A shared lock on the folder's lock file until this process ends, which tells other processes' `make_room`
    that the conversion is in use. Without fcntl (Windows) or in a read-only cache, only this process knows."""
    if folder in _HELD:
        return
    try:
        import fcntl

        fd = os.open(folder / IN_USE_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
    except (ImportError, OSError):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        _HELD[folder] = fd
    except OSError:
        os.close(fd)


def _used_elsewhere(folder: Path) -> bool:
    """True when another process holds the folder's lock (it has loaded the conversion)."""
    try:
        import fcntl

        fd = os.open(folder / IN_USE_LOCK, os.O_RDONLY)
    except (ImportError, OSError):
        return False  # no lock file: no process has loaded it since it was made
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # and with it the test's own lock


def make_room(need_bytes: int = 0) -> list[Path]:
    """Remove the least recently used conversions (plain folders of GGUF models, ONNX and CTranslate2 folders)
    until those left plus `need_bytes` fit in HYBRID_AI_CACHE_MAX_GB; -> what was removed."""
    raw = os.environ.get("HYBRID_AI_CACHE_MAX_GB") or str(DEFAULT_MAX_GB)
    try:
        limit = float(raw) * 2**30
    except ValueError:
        limit = float("nan")
    if not limit >= 0:
        raise BackendError(f"HYBRID_AI_CACHE_MAX_GB must be a number of GB (0 or more), not {raw!r}", kind="load")
    root = cache_root()
    found = [p for d in (root, root / "onnx", root / "ct2") if d.is_dir() for p in d.iterdir()
             if p.is_dir() and not p.name.startswith(".") and p.name not in ("onnx", "ct2")]
    sizes = {p: _size(p) for p in found}
    total, removed = sum(sizes.values()) + need_bytes, []
    for p in sorted(found, key=lambda q: q.stat().st_mtime):
        if total <= limit:
            break
        if p.resolve() in _IN_USE or _used_elsewhere(p):
            continue
        shutil.rmtree(p, ignore_errors=True)
        total -= sizes[p]
        removed.append(p)
    return removed


def built_once(dest: Path, build: Callable[[Path], None], complete: Callable[[Path], bool], what: str,
               room: int = 0) -> Path:
    """`dest` when `complete(dest)`; else `build(tmp)` fills a hidden temporary folder beside it (after making
    `room` bytes of space) that is then renamed to `dest`. Ctrl-C or a full disk leaves nothing where the next load
    looks; a failure is one BackendError, "cannot WHAT into DEST: why". Another process that finished the same
    build first wins the race."""
    if complete(dest):
        return used(dest)
    if dest.exists():  # half-written or corrupt: never loaded, rebuilt
        shutil.rmtree(dest, ignore_errors=True)
    make_room(room)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".tmp-"))
    why = None
    try:
        build(tmp)
        os.replace(tmp, dest)
    except BackendError:
        raise  # the converter said why
    except Exception as e:  # an OSError, or a library's own error around one (safetensors)
        why = failure(e, dest.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if why is None or complete(dest):
        return used(dest)
    # raised outside the `except`: the error holds no traceback, whose frames would keep the models alive
    raise BackendError(f"cannot {what} into {dest}: {why}", kind="load")
