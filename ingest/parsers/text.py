"""Plain text (.txt), and `decode_text`, which every text-based format uses to turn bytes into str."""

from __future__ import annotations

import codecs
import re

from ingest.document import Block, ParsedDocument
from ingest.parsers.base import ParseContext, ParseFailure, SkipFile
from ingest.parsers.normalize import new_document, unreadable_fraction

_BOMS = (  # UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Unicode category Cc minus \t \n \v \f \r, plus the replacement character.
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_BINARY_FRACTION = 0.05  # real text (even logs with ANSI colours) stays well under this
_UNREADABLE_FRACTION = 0.1
_SAMPLE_CHARS = 100_000
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def decode_text(data: bytes, source: str, *, declared: str | None = None) -> str:
    """Bytes -> str: BOM (UTF-8/16/32), else strict UTF-8, else cp1252, else latin-1; NULs removed.

    `declared` is an encoding the format itself names (an HTML meta charset, a MIME charset): it
    is tried, strictly, right after the BOM. Binary content (many control characters) raises
    ParseFailure("corrupt_file").
    """
    text = _decode(data, declared).replace("\x00", "")
    # Random bytes read as UTF-16 (a BOM, or a fake one) give valid-looking CJK, but also many
    # private-use and unassigned code points, which real text hardly has.
    if _looks_binary(text) or unreadable_fraction(text[:_SAMPLE_CHARS]) > _UNREADABLE_FRACTION:
        raise ParseFailure("corrupt_file", f"{source}: binary content, not text")
    return text


def _decode(data: bytes, declared: str | None) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # A BOM wins; a few bad bytes (a truncated tail) become U+FFFD, and many of them
            # make the binary check reject the file.
            return data[len(bom) :].decode(encoding, errors="replace")
    if declared:
        try:
            encoding = codecs.lookup(declared).name
            # "ascii" and "latin-1" labels are mostly wrong (browsers read both as cp1252): guess instead
            if encoding not in ("ascii", "iso8859-1"):
                return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass  # unknown or wrong label: guess like for undeclared bytes
    utf16 = _bomless_utf16(data)
    if utf16 is not None:
        return utf16
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mixed = _mostly_utf8(data)
    if mixed is not None:
        return mixed
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text with a few stray single-byte characters (files glued from two sources), or None.

    Decoding all of it as cp1252 would turn every correct "é" into "Ã©"; instead only the
    invalid bytes are read as cp1252. Needs clearly more valid multi-byte characters than bad bytes.
    """
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    multibyte = len(_NON_ASCII.findall(lenient)) - lenient.count("\ufffd")
    if multibyte < 4 * max(bad, 1):
        return None
    return data.decode("utf-8", errors=_FALLBACK_HANDLER)


def _single_byte_fallback(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the undecodable bytes read as cp1252 (latin-1 for its five holes)."""
    assert isinstance(err, UnicodeDecodeError)
    chunk = err.object[err.start : err.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in chunk), err.end


_FALLBACK_HANDLER = "ragkit-utf8-cp1252-fallback"
codecs.register_error(_FALLBACK_HANDLER, _single_byte_fallback)


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM (mostly ASCII text with every other byte zero), or None."""
    if len(data) < 8 or len(data) % 2:
        return None
    half = len(data) // 2
    even_nuls = data[0::2].count(0)
    odd_nuls = data[1::2].count(0)
    for nuls, other, encoding in ((odd_nuls, even_nuls, "utf-16-le"), (even_nuls, odd_nuls, "utf-16-be")):
        if nuls > 0.6 * half and other < 0.05 * half:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _looks_binary(text: str) -> bool:
    """True when too many characters are control codes or U+FFFD for this to be text."""
    bad = sum(1 for _ in _BINARY_CHARS.finditer(text))
    return bad > max(2, _BINARY_FRACTION * len(text))


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of `text`: runs of lines separated by blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


class TextParser:
    """.txt: one text block per paragraph."""

    extensions = (".txt",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Decode the bytes and split them into paragraphs."""
        blocks = [Block(p) for p in split_paragraphs(decode_text(data, source))]
        if not blocks:
            raise SkipFile("empty", f"{source}: no text")
        return [new_document(data, source, blocks)]
