"""Delimited and structured data: .csv/.tsv as one table, .json and .jsonl as "key.path: value" lines."""

from __future__ import annotations

import csv
import json
from typing import Any, Iterator

from ingest.document import Block, ParsedDocument, render_table
from ingest.parsers.base import ParseContext, ParseFailure, SkipFile
from ingest.parsers.normalize import new_document
from ingest.parsers.text import decode_text

_SNIFF_BYTES = 32 * 1024
_MAX_LINE_WARNINGS = 20


class CsvParser:
    """.csv/.tsv: the dialect sniffed from the first lines; one table block, header row first, empty rows dropped."""

    extensions = (".csv", ".tsv")

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Decode, sniff the delimiter and read every row."""
        text = decode_text(data, source)
        dialect: Any = csv.excel_tab if source.lower().endswith(".tsv") else _sniff(text)
        # one legitimately long field (a pasted document) exceeds csv's default 128 KiB cap
        csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
        rows: list[tuple[str, ...]] = []
        reader = csv.reader(text.splitlines(), dialect)
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(tuple(row))
        except csv.Error as e:
            raise ParseFailure("corrupt_file", f"{source}: malformed CSV at line {reader.line_num} ({e})") from e
        if not rows:
            raise SkipFile("empty", f"{source}: no rows")
        width = max(len(r) for r in rows)
        table = tuple(r + ("",) * (width - len(r)) for r in rows)
        return [new_document(data, source, [Block(render_table(table), "table", rows=table)])]


def _sniff(text: str) -> Any:
    sample = text[:_SNIFF_BYTES]
    if len(text) > _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:  # one column, or too irregular to tell: plain comma-separated
        return csv.excel


def flatten(value: Any, path: str = "") -> Iterator[str]:
    """JSON as readable lines: "key.sub[0].name: value"; a bare scalar is its own line."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:  # iterative: deeply nested input must not hit the recursion limit
        path, v = stack.pop()
        if isinstance(v, dict) and v:
            stack.extend((f"{path}.{k}" if path else str(k), x) for k, x in reversed(list(v.items())))
        elif isinstance(v, list) and v:
            stack.extend((f"{path}[{i}]", x) for i, x in reversed(list(enumerate(v))))
        else:
            rendered = _scalar(v)
            yield f"{path}: {rendered}" if path else rendered


def _scalar(v: Any) -> str:
    """A JSON leaf as JSON spells it (true, null, 2.5), strings bare; json.dumps is slow for this."""
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    return json.dumps(v, ensure_ascii=False)  # {} and []


def _sections(value: Any) -> list[tuple[str, Any]]:
    """Top-level pieces that make natural blocks: (path, value) per list item or object key."""
    if isinstance(value, list) and value:
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, dict) and value:
        return [(str(k), v) for k, v in value.items()]
    return [("", value)]


class JsonParser:
    """.json: one document; one block per top-level key or item, as "key.path: value" lines."""

    extensions = (".json",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Load the JSON, naming the line and column of a syntax error."""
        text = decode_text(data, source)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ParseFailure(
                "corrupt_file", f"{source}: invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
            ) from e
        except RecursionError as e:
            raise ParseFailure("corrupt_file", f"{source}: JSON nested too deeply to read") from e
        if value is None or value == {} or value == [] or value == "":
            raise SkipFile("empty", f"{source}: no values")
        blocks = [Block("\n".join(flatten(v, path))) for path, v in _sections(value)]
        blocks = [b for b in blocks if b.text.strip()]
        if not blocks:
            raise SkipFile("empty", f"{source}: no values")
        return [new_document(data, source, blocks)]


class JsonLinesParser:
    """.jsonl/.ndjson: one document; each record a block of "key: value" lines; bad lines become warnings."""

    extensions = (".jsonl", ".ndjson")

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Read line by line; a line that is not JSON is skipped with a warning naming its number."""
        text = decode_text(data, source)
        blocks: list[Block] = []
        bad: list[str] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                reason = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deeply"
                bad.append(f"line {number}: invalid JSON ({reason}); line skipped")
                continue
            rendered = "\n".join(flatten(record))
            if rendered.strip():
                blocks.append(Block(rendered))
        if not blocks:
            if bad:
                raise ParseFailure("corrupt_file", f"{source}: no valid JSON line ({bad[0]})")
            raise SkipFile("empty", f"{source}: no records")
        warnings = bad[:_MAX_LINE_WARNINGS]
        if len(bad) > _MAX_LINE_WARNINGS:
            warnings.append(f"{len(bad) - _MAX_LINE_WARNINGS} more invalid lines skipped")
        return [new_document(data, source, blocks, warnings=warnings)]
