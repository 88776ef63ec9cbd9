"""Finding the files to ingest: walks folders once each, never loops on symlinks, names sources per SPEC.md."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ragkit.errors import UsageError


@dataclass(frozen=True)
class FoundFile:
    path: Path
    root: str  # the folder given (absolute), or the file itself when a file was given
    source: str  # path relative to the root, as on disk, '/'-separated; a file given directly: its name
    size: int
    mtime: float


@dataclass(frozen=True)
class Duplicate:
    path: Path
    source: str
    first: Path


def discover(paths: list[str | Path]) -> Iterator[FoundFile | Duplicate]:
    """Every regular file under the given paths, once. Hidden files and folders are left out.

    Symlinks are followed, but a folder or file already visited (same device and inode) is not
    visited again, so link loops end. Two inputs producing the same source yield a Duplicate.
    """
    seen_files: set[tuple[int, int]] = set()
    seen_sources: dict[str, Path] = {}
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UsageError(f"{given}: no such file or folder", code="path_not_found")
        path = path.absolute()
        if path.is_file():
            yield from _emit(path, str(path), path.name, seen_files, seen_sources)
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
            st = os.stat(dirpath)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add(key)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            # real files before links to them, so a file reached both ways keeps its own name
            for name in sorted(filenames, key=lambda n: (os.path.islink(os.path.join(dirpath, n)), n)):
                if name.startswith("."):
                    continue
                full = Path(dirpath) / name
                source = full.relative_to(path).as_posix()
                yield from _emit(full, str(path), source, seen_files, seen_sources)


def _emit(path: Path, root: str, source: str, seen_files, seen_sources) -> Iterator[FoundFile | Duplicate]:
    try:
        st = path.stat()
    except OSError:
        return  # a dangling link or a file that vanished mid-walk
    if not path.is_file():
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_files:
        return
    seen_files.add(key)
    # NFC so the same name typed on macOS and Linux is one source
    norm = unicodedata.normalize("NFC", source)
    if norm in seen_sources:
        yield Duplicate(path, source, seen_sources[norm])
        return
    seen_sources[norm] = path
    yield FoundFile(path=path, root=root, source=source, size=st.st_size, mtime=st.st_mtime)
