"""Writing private files: one atomic, durable write for every key and secret we keep on disk.

A key file half-written by a crash, or silently replaced by a second writer, loses the key: so
the data goes to a private temporary file in the same directory, is fsynced, and only then takes
the final name (a hard link when the file must not exist yet, which fails if another writer got
there first), and the directory is fsynced so the name itself survives a crash.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ledger.errors import ConfigError, LedgerError

__all__ = ["write_private"]


def write_private(
    path: Path,
    data: bytes,
    *,
    what: str,
    overwrite: bool = False,
    mode: int = 0o600,
    error: type[LedgerError] = ConfigError,
) -> None:
    """Write ``data`` to ``path`` atomically and durably, with ``mode`` (0600 unless told).

    Without ``overwrite`` an existing file is never replaced, even by a concurrent writer.
    Every failure is one ``error`` (``ConfigError`` unless told) naming ``what`` and ``path``.
    """
    refuse = f"{path} already exists; refusing to overwrite the {what}"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create {path.parent}: {exc.strerror}") from exc
    if not overwrite and path.exists():
        raise error(refuse)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise error(f"cannot write to {path.parent}: {exc.strerror}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp creates the file with mode 0600
            if mode != 0o600:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            tmp.replace(path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise error(refuse) from None
            except OSError:  # no hard links on this filesystem: check, then rename
                if path.exists():
                    raise error(refuse) from None
                tmp.replace(path)
        _fsync_directory(path.parent)
    except OSError as exc:
        raise error(f"cannot write the {what} to {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
