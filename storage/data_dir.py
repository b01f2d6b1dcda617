"""The data dir (FRONTDESK_DATA_DIR): proved writable before anything is written to it, the lock that
lets one process at a time write the embedded knowledge base in it, and one-line explanations for
storage failures (full disk, read-only file system, no permission) that happen at start."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = ".frontdesk.lock"
# Start-up writes the database, Chroma's files and the demo uploads: a data dir that cannot take
# one more MiB will fail half-way, so it is refused before anything is written.
PROBE_BYTES = 1024 * 1024
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
# How SQLite (through SQLAlchemy or Chroma) words the same failures, and what they mean.
_STORAGE_MESSAGES = {
    "database or disk is full": "No space left on device",
    "no space left on device": "No space left on device",
    "attempt to write a readonly database": "Read-only file system or database file",
    "read-only file system": "Read-only file system",
    "readonly database": "Read-only file system or database file",
    "unable to open database file": "the database file cannot be opened (missing folder or permission)",
}


class DataDirError(RuntimeError):
    """The data dir cannot be used; the message is one line naming the path and the reason."""


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    role: str

    def __str__(self) -> str:
        return f"{self.role} (pid {self.pid})" if self.pid else self.role


class DataDirBusy(DataDirError):
    """Another Frontdesk process holds the data dir's lock."""

    def __init__(self, data_dir: Path, holder: LockHolder) -> None:
        super().__init__(f"the data dir {data_dir} is in use by {holder}")
        self.data_dir = data_dir
        self.holder = holder


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_writable(data_dir: Path) -> Path:
    """Create the data dir if needed and prove that a 1 MiB file fits; returns its absolute path."""
    path = data_dir.resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DataDirError(f"the data dir {path} is not a directory") from exc
    except OSError as exc:
        raise DataDirError(f"the data dir {path} cannot be created: {_reason(exc)}") from exc
    probe = path / f".write-check-{os.getpid()}"
    try:
        with probe.open("wb") as out:
            out.write(bytes(PROBE_BYTES))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise DataDirError(f"the data dir {path} is not writable: {_reason(exc)}") from exc
    finally:
        with suppress(OSError):
            probe.unlink()
    return path


def _read_holder(fd: int) -> LockHolder:
    os.lseek(fd, 0, os.SEEK_SET)
    pid, _, role = os.read(fd, 200).decode(errors="replace").strip().partition(" ")
    return LockHolder(int(pid) if pid.isdigit() else None, role or "another Frontdesk process")


@contextmanager
def exclusive_lock(data_dir: Path, *, role: str) -> Iterator[None]:
    """Hold the data dir's lock for the block, or raise DataDirBusy naming who holds it.

    An flock(2) lock: the kernel drops it when the holder exits, however it exits.
    """
    path = data_dir.resolve() / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DataDirError(f"the lock file {path} cannot be opened: {_reason(exc)}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusy(data_dir.resolve(), _read_holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def explain_storage_failure(exc: BaseException, data_dir: Path) -> str | None:
    """One line naming the path and the reason when `exc` (or its cause) is a storage failure, or
    when the data dir cannot be written now. None for anything else: a bug keeps its traceback."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _STORAGE_ERRNOS:
            where = current.filename or data_dir.resolve()
            return f"cannot write {where}: {_reason(current)}"
        text = str(current).lower()
        for needle, reason in _STORAGE_MESSAGES.items():
            if needle in text:
                return f"cannot write to the data dir {data_dir.resolve()}: {reason}"
        current = current.__cause__ or current.__context__
    # Some libraries hide the cause (Chroma: "Failed to apply logs to the metadata segment"): if the
    # data dir cannot take a write now, that is the reason.
    try:
        check_writable(data_dir)
    except DataDirError as full:
        return str(full)
    return None
