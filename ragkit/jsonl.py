"""The one JSON Lines reader: eval sets, training pairs, Q&A files and BEIR folders all read through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ragkit.errors import InputError, RagkitError


def read_jsonl(path: str | Path, *, code: str, error: type[RagkitError] = InputError, missing: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line, streamed; a missing file, a line that is
    not UTF-8 or not JSON raises `error` with `code`, naming the file and the line."""
    p = Path(path)
    if not p.is_file():
        raise _error(error, f"{p}: {missing or 'no such file'}", code, p)
    with open(p, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise _error(error, f"{p} line {n}: not UTF-8 text (byte {e.start + 1} of the line)", code, p) from None
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise _error(error, f"{p} line {n}: not JSON ({e.msg})", code, p) from None


def _error(cls: type[RagkitError], message: str, code: str, path: Path) -> RagkitError:
    return cls(message, code=code, source=str(path)) if issubclass(cls, InputError) else cls(message, code=code)
