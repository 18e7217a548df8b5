"""Writing results to files safely, and turning result dataclasses into JSON.

Exports and reports are written to a temporary file beside the target and moved into place, so a reader
never sees half a file; they refuse paths with NUL bytes, system directories, and (without ``force``) an
existing file, with one line that names the path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

SYSTEM_DIRECTORIES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
                      "/sbin", "/sys", "/usr", "/var/cache", "/var/lib", "/var/log", "/var/spool", "/var/run")


class OutputError(ValueError):
    """A path the results cannot (or must not) be written to; the message names it."""


def safe_output_path(path: str | os.PathLike[str], force: bool = False) -> Path:
    """The resolved path to write to, after the checks in the module docstring."""
    text = os.fspath(path)
    if "\x00" in text:
        raise OutputError(f"invalid output path {text!r}: contains a NUL byte")
    if not text.strip():
        raise OutputError("invalid output path '': empty")
    resolved = Path(os.path.realpath(os.path.expanduser(text)))
    parent = resolved.parent
    if str(parent) == "/" or any(str(resolved) == d or str(resolved).startswith(d + "/")
                                 for d in SYSTEM_DIRECTORIES):
        raise OutputError(f"refusing to write {text!r}: {parent} is a system directory")
    if not parent.is_dir():
        raise OutputError(f"cannot write {text!r}: directory {parent} does not exist")
    if resolved.is_dir():
        raise OutputError(f"cannot write {text!r}: it is a directory")
    if resolved.exists() and not force:
        raise OutputError(f"refusing to overwrite {text!r}: it exists (use --force to replace it)")
    return resolved


def write_atomically(target: Path, write: Callable[[IO[str]], Any], force: bool = False,
                     newline: str | None = None) -> Any:
    """Run ``write`` on a temporary file in the target's directory, then move it into place.

    Without ``force`` the move does not replace a file that appeared meanwhile (link, not rename).
    The file is owner-only, like the telemetry it comes from.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise OutputError(f"refusing to overwrite {str(target)!r}: it exists (use --force to replace it)"
                                  ) from None
            os.unlink(tmp)
        return result
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, paths, datetimes and NaN/inf made JSON-safe (non-finite floats become null)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj
