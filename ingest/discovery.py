"""Finding the files to ingest: walks folders once each, never loops on symlinks, names sources per SPEC.md."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ragkit.errors import InputError, UsageError

# Bidirectional-text controls: a name holding one can display as another (`x\u202etxt.exe` shows as `xexe.txt`).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters (NUL, newline, tab, DEL...), lone surrogates (bytes that were not UTF-8) and line/paragraph separators.
_UNPRINTABLE_CATEGORIES = frozenset(("Cc", "Cs", "Zl", "Zp"))


# -- the naming rule folder discovery and HTTP uploads share ---------------------------------


def is_hidden(name: str) -> bool:
    """A hidden file or folder name (`.env`, `.git`): left out of every ingest, folders and uploads alike."""
    return name.startswith(".") and name not in (".", "..")


def name_problem(name: str) -> str | None:
    """Why a file name cannot be a source (a NUL, a newline, another unprintable character), or None."""
    if not name:
        return "the name is empty"
    for i, ch in enumerate(name):
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _UNPRINTABLE_CATEGORIES:
            return f"the name holds an unprintable character ({_describe(ch)}) at position {i + 1}"
    return None


def _describe(ch: str) -> str:
    if 0xDC80 <= ord(ch) <= 0xDCFF:
        return f"byte 0x{ord(ch) - 0xDC00:02x}, not UTF-8"
    fallback = "a control character" if unicodedata.category(ch) == "Cc" else unicodedata.category(ch)
    return f"U+{ord(ch):04X}, {unicodedata.name(ch, fallback)}"


def upload_source(name: str) -> str | None:
    """The source of an uploaded file: the last part of the name the client sent ('../../a.txt' -> 'a.txt').

    None when the name is hidden, or sits in a hidden folder ('.git/config'), as folder ingest
    leaves those out. A name with an unprintable character raises InputError naming it.
    """
    problem = name_problem(name)
    if problem:
        raise InputError(f"upload {name!r}: {problem}; rename the file", code="invalid_file_name", source=name)
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        raise InputError(f"upload {name!r}: the name has no file name part", code="invalid_file_name", source=name)
    if any(is_hidden(p) for p in parts):
        return None
    return parts[-1]


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
            dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
            # real files before links to them, so a file reached both ways keeps its own name
            for name in sorted(filenames, key=lambda n: (os.path.islink(os.path.join(dirpath, n)), n)):
                if is_hidden(name):
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
