"""A small content-addressed cache for things built at first use (trained models).

Files are keyed by a hash of everything they were built from, so a changed
input is a new key (the stale file is simply not read again). Writes go to a
temporary file in the same folder and are renamed into place, so two processes
starting at once never see half a file: at worst both build it and the last
rename wins with identical content.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``RESONATE_CACHE_DIR`` or the user's cache directory."""
    env = os.environ.get("RESONATE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("resonate"))


def content_hash(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
