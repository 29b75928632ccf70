"""Atomic file and directory writes, with disk-full and permission failures reported as such."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from unlearn_core.errors import OutputDirError

_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or directory",
}
# Errors raised by libraries that wrap the OS error in their own type (safetensors, torch.save) keep only its text.
_TEXT_HINTS = (
    (("no space left", "os error 28", "storagefull"), errno.ENOSPC),
    (("quota exceeded", "os error 122"), errno.EDQUOT),
    (("permission denied", "os error 13"), errno.EACCES),
    (("read-only file system", "os error 30"), errno.EROFS),
)


def os_error_reason(exc: BaseException) -> str:
    """A short lower-case reason: 'no space left on device', 'permission denied', or the first line of the error."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code in _REASONS:
        return _REASONS[code]
    text = str(exc).lower()
    for hints, hinted in _TEXT_HINTS:
        if any(hint in text for hint in hints):
            return _REASONS[hinted]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _disk_full(path: Path) -> bool:
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    try:
        return existing is not None and shutil.disk_usage(existing).free < 1 << 20
    except OSError:
        return False


def write_failure(path: Path | str, exc: BaseException) -> OutputDirError:
    """``cannot write PATH: REASON`` as an OutputDirError (one line, exit code 1)."""
    reason = os_error_reason(exc)
    if reason not in _REASONS.values() and _disk_full(Path(path)):
        reason = _REASONS[errno.ENOSPC]  # e.g. torch.save's "file write failed" on a full disk
    return OutputDirError(f"cannot write {path}: {reason}")


def json_ready(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by None (JSON has no NaN) and tuples as lists."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def json_line(record: dict[str, Any]) -> str:
    """One strict-JSON line (NaN/inf become null), as written to the ``*.jsonl`` logs."""
    return json.dumps(json_ready(record), allow_nan=False) + "\n"


def fsync_path(path: Path) -> None:
    """Flush a file (or a directory entry list) to disk; silently skipped where the platform cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON to a temporary sibling, fsync it, then rename it over ``path``; failures name the path."""
    write_text(path, json.dumps(json_ready(data), indent=2, allow_nan=False))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a temporary sibling, fsync it, then rename it over ``path``."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, fsync it, then rename it over ``path``; failures name the path."""
    fd, tmp = None, None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())  # what open() would give, not mkstemp's owner-only mode
        with os.fdopen(fd, "wb") as f:
            fd = None
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise write_failure(path, exc) from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished directory ``tmp`` to ``final``; an older ``final`` is swapped out, then removed."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    fsync_path(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def fsync_tree(root: Path) -> None:
    """fsync every file under ``root`` and ``root`` itself (before a completion marker is written)."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            fsync_path(path)
    fsync_path(root)
