"""The parser registry: picks a parser by file extension and runs it within the limits.

Built-in parsers are named here as "module:Class" strings and imported on first use, so
importing this package stays cheap (the sync pipeline skips unchanged files without loading
any parser). Other packages add or replace formats through entry points in the group
`ragkit.parsers`: the entry point's name is the extension it handles, its value a Parser
class (or instance) with `parse(data, source, ctx)`:

    [project.entry-points."ragkit.parsers"]
    rtf = "ragkit_rtf:RtfParser"

`register_parser` does the same in-process. A plugin for an extension replaces the built-in.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from ingest.document import ParsedDocument
from ingest.parsers.base import (
    ChildOutcome,
    ExpansionBudget,
    ParseContext,
    ParseFailure,
    ParseLimits,
    Parser,
    ParseResult,
    SkipFile,
)
from ingest.parsers.normalize import extension_of, normalize_document

__all__ = [
    "ChildOutcome",
    "ENTRY_POINT_GROUP",
    "ParseContext",
    "ParseFailure",
    "ParseLimits",
    "ParseResult",
    "Parser",
    "ParserRegistry",
    "SkipFile",
    "check_supported",
    "parse_bytes",
    "parse_child",
    "parser_for",
    "register_parser",
    "supported_extensions",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ragkit.parsers"

_BUILTINS: dict[str, str] = {
    ".txt": "ingest.parsers.text:TextParser",
    ".md": "ingest.parsers.markdown:MarkdownParser",
    ".markdown": "ingest.parsers.markdown:MarkdownParser",
    ".html": "ingest.parsers.html:HtmlParser",
    ".htm": "ingest.parsers.html:HtmlParser",
    ".pdf": "ingest.parsers.pdf:PdfParser",
    ".docx": "ingest.parsers.office:DocxParser",
    ".pptx": "ingest.parsers.office:PptxParser",
    ".xlsx": "ingest.parsers.office:XlsxParser",
    ".eml": "ingest.parsers.email:EmailParser",
    ".csv": "ingest.parsers.tabular:CsvParser",
    ".tsv": "ingest.parsers.tabular:CsvParser",
    ".json": "ingest.parsers.tabular:JsonParser",
    ".jsonl": "ingest.parsers.tabular:JsonLinesParser",
    ".ndjson": "ingest.parsers.tabular:JsonLinesParser",
    ".zip": "ingest.parsers.archive:ZipParser",
}

# Formats people will try, with what to do instead.
_HINTS: dict[str, str] = {
    **dict.fromkeys((".doc", ".dot", ".docm", ".odt", ".wpd", ".pages"), "save it as .docx"),
    **dict.fromkeys((".rtf",), "save it as .docx or .txt"),
    **dict.fromkeys((".xls", ".xlsm", ".xlsb", ".ods", ".numbers"), "save it as .xlsx or .csv"),
    **dict.fromkeys((".ppt", ".pps", ".ppsx", ".pptm", ".odp", ".key"), "save it as .pptx"),
    **dict.fromkeys((".msg", ".mbox", ".pst"), "export the messages as .eml files"),
    **dict.fromkeys((".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"), "repack it as .zip"),
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp", ".heic"),
        "images need OCR, which is not supported; a PDF with a text layer works",
    ),
    **dict.fromkeys((".xml", ".rst", ".log", ".yaml", ".yml"), "rename it to .txt to index it as plain text"),
}


class ParserRegistry:
    """Extension -> parser: built-ins, entry points and in-process registrations, each loaded once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered: dict[str, Any] = {}  # ext -> Parser (register_parser)
        self._entry_points: dict[str, Any] | None = None  # ext -> EntryPoint, found lazily
        self._loaded: dict[str, Parser] = {}

    def register(self, parser: Any, extensions: tuple[str, ...] | list[str] | None = None) -> None:
        """Use `parser` (a Parser, or a class making one) for `extensions` (default: its own)."""
        parser = parser() if isinstance(parser, type) else parser
        exts = extensions or getattr(parser, "extensions", ())
        if not exts:
            raise ValueError("register_parser: no extensions given and the parser declares none")
        with self._lock:
            for ext in exts:
                ext = _dotted(ext)
                self._registered[ext] = parser
                self._loaded.pop(ext, None)

    def extensions(self) -> tuple[str, ...]:
        """Every extension some parser handles, sorted."""
        return tuple(sorted(set(_BUILTINS) | set(self._plugins()) | set(self._registered)))

    def get(self, source: str) -> Parser:
        """The parser for `source`, or SkipFile("unsupported_type") with a hint."""
        ext = extension_of(source)
        if ext in self._registered:
            return self._registered[ext]
        with self._lock:
            if ext in self._loaded:
                return self._loaded[ext]
        plugin = self._plugins().get(ext)
        if plugin is not None:
            parser = self._load_entry_point(plugin, source)
        elif ext in _BUILTINS:
            module, _, name = _BUILTINS[ext].partition(":")
            parser = getattr(importlib.import_module(module), name)()
        else:
            raise SkipFile("unsupported_type", _unsupported_message(source, ext, self.extensions()))
        with self._lock:
            self._loaded[ext] = parser
        return parser

    def check(self, source: str) -> None:
        """SkipFile("unsupported_type") unless some parser handles `source`; loads nothing."""
        ext = extension_of(source)
        if ext not in self._registered and ext not in _BUILTINS and ext not in self._plugins():
            raise SkipFile("unsupported_type", _unsupported_message(source, ext, self.extensions()))

    def _plugins(self) -> dict[str, Any]:
        if self._entry_points is None:
            from importlib.metadata import entry_points

            found: dict[str, Any] = {}
            try:
                for ep in entry_points(group=ENTRY_POINT_GROUP):
                    found[_dotted(ep.name)] = ep
            except Exception:  # a broken distribution's metadata must not stop ingestion
                logger.warning("could not read %s entry points", ENTRY_POINT_GROUP, exc_info=True)
            for ext, ep in found.items():
                if ext in _BUILTINS:
                    logger.info("parser plugin %s replaces the built-in parser for %s", ep.value, ext)
            self._entry_points = found
        return self._entry_points

    @staticmethod
    def _load_entry_point(ep: Any, source: str) -> Parser:
        try:
            obj = ep.load()
            parser = obj() if isinstance(obj, type) else obj
        except Exception as e:
            raise ParseFailure("parser_error", f"{source}: parser plugin {ep.value!r} failed to load ({e})") from e
        if not callable(getattr(parser, "parse", None)):
            raise ParseFailure("parser_error", f"{source}: parser plugin {ep.value!r} has no parse() method")
        return parser


def _dotted(ext: str) -> str:
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else "." + ext


def _unsupported_message(source: str, ext: str, supported: tuple[str, ...]) -> str:
    if not ext:
        return f"{source}: no file extension, so the type is unknown"
    hint = _HINTS.get(ext)
    if hint:
        return f"{source}: {ext} files are not supported; {hint}"
    return f"{source}: {ext} files are not supported (supported: {' '.join(supported)})"


_registry = ParserRegistry()


def register_parser(parser: Any, extensions: tuple[str, ...] | list[str] | None = None) -> None:
    """Register a parser in-process (the same effect as a `ragkit.parsers` entry point)."""
    _registry.register(parser, extensions)


def supported_extensions() -> tuple[str, ...]:
    """Every extension that has a parser (".csv", ".docx", ...), built-ins and plugins alike."""
    return _registry.extensions()


def parser_for(source: str) -> Parser:
    """The parser that would handle `source`, or SkipFile("unsupported_type")."""
    return _registry.get(source)


def check_supported(source: str) -> None:
    """Raise SkipFile("unsupported_type", ...) unless some parser handles `source`'s extension."""
    _registry.check(source)


def parse_bytes(data: bytes, source: str, limits: ParseLimits) -> ParseResult:
    """Parse one input into documents (an archive or e-mail gives several) and container-member outcomes.

    Raises SkipFile (unsupported_type, too_large, empty, no_text_layer...) or ParseFailure
    (corrupt_file, archive_limit...) for the input itself; members and attachments never raise,
    they become `outcomes`.
    """
    ctx = ParseContext(
        limits=limits,
        depth=0,
        parse_child=parse_child,
        outcomes=[],
        budget=ExpansionBudget(limits.archive_max_bytes),
    )
    documents: list[ParsedDocument] = []
    seen: set[str] = set()
    for doc in _parse(data, source, ctx):
        if doc.source in seen:  # e.g. member "x.eml/a.pdf" beside x.eml's attachment a.pdf
            ctx.outcomes.append(
                ChildOutcome(doc.source, "failed", "duplicate_source", f"{doc.source}: two inputs give this source")
            )
        else:
            seen.add(doc.source)
            documents.append(doc)
    return ParseResult(documents=documents, outcomes=list(ctx.outcomes))


def parse_child(data: bytes, source: str, parent: ParseContext) -> list[ParsedDocument]:
    """Parse a member or attachment one level deeper than `parent`, sharing its limits, budget and outcomes."""
    ctx = ParseContext(
        limits=parent.limits,
        depth=parent.depth + 1,
        parse_child=parse_child,
        outcomes=parent.outcomes,
        budget=parent.budget if parent.budget is not None else ExpansionBudget(parent.limits.archive_max_bytes),
    )
    if ctx.depth > ctx.limits.archive_max_depth:
        raise ParseFailure("archive_limit", f"{source}: nested more than {ctx.limits.archive_max_depth} levels deep")
    return _parse(data, source, ctx)


def _parse(data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
    parser = _registry.get(source)
    limit = ctx.limits.max_file_bytes
    if len(data) > limit:
        raise SkipFile("too_large", f"{source}: {len(data)} bytes, more than the limit of {limit} (RAGKIT_MAX_FILE_BYTES)")
    if not data or data.isspace():
        raise SkipFile("empty", f"{source}: empty file")
    outcomes_before = len(ctx.outcomes)
    try:
        documents = parser.parse(data, source, ctx)
    except (SkipFile, ParseFailure):
        raise
    except Exception as e:  # a library's own exception: report it against the input, not as a crash
        logger.debug("parser for %s raised", source, exc_info=True)
        message = str(e).strip() or type(e).__name__
        raise ParseFailure("corrupt_file", f"{source}: {type(e).__name__}: {message[:300]}") from e
    documents = [d for d in (normalize_document(d) for d in documents) if d.blocks]
    if not documents and len(ctx.outcomes) == outcomes_before:
        raise SkipFile("empty", f"{source}: no text found")
    return documents
