"""E-mail (.eml) with the standard library: one document for headers and body, one per attachment."""

from __future__ import annotations

import mimetypes
import re
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from ingest.document import Block, ParsedDocument
from ingest.parsers.base import ChildOutcome, ParseContext, ParseFailure, parse_member
from ingest.parsers.normalize import new_document, normalize_line
from ingest.parsers.text import decode_text, split_paragraphs

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


class EmailParser:
    """.eml: headers (From, To, Cc, Date, Subject) and the body; attachments parsed as their own documents."""

    extensions = (".eml",)

    def parse(self, data: bytes, source: str, ctx: ParseContext) -> list[ParsedDocument]:
        """Parse the message, choose one body (plain text preferred), and hand attachments to parse_child."""
        try:
            msg = BytesParser(policy=policy.default).parsebytes(data)
        except Exception as e:
            raise ParseFailure("corrupt_file", f"{source}: unreadable e-mail ({type(e).__name__}: {e})") from e
        headers = {name: _header(msg, name) for name in (*_HEADERS, "Message-ID")}
        if not any(headers.values()):
            raise ParseFailure("corrupt_file", f"{source}: not an e-mail (no From, To, Date or Subject header)")

        body = _body_part(msg)
        attachments, inline_texts = _attachments(msg, body)
        blocks = [Block("\n".join(f"{name}: {headers[name]}" for name in _HEADERS if headers[name]))]
        warnings: list[str] = []
        for part in ([body] if body is not None else []) + inline_texts:
            text, warning = _part_text(part)
            blocks.extend(Block(p) for p in split_paragraphs(text))
            if warning:
                warnings.append(warning)

        docs: list[ParsedDocument] = []
        used: set[str] = set()
        for number, part in enumerate(attachments, 1):
            name = _unique(_attachment_name(part, number), used)
            payload = _attachment_bytes(part)
            child = f"{source}/{name}"
            if payload is None:
                ctx.outcomes.append(ChildOutcome(child, "failed", "corrupt_file", f"{child}: attachment cannot be decoded"))
                continue
            docs.extend(parse_member(ctx, payload, child))

        subject = headers["Subject"]
        metadata = {k.lower(): v for k, v in headers.items() if v and k in ("From", "To", "Date", "Subject")}
        return [new_document(data, source, blocks, title=subject or None, warnings=warnings, metadata=metadata), *docs]


def _header(msg: Message, name: str) -> str:
    """A header as readable text (encoded words decoded); "" when absent or malformed."""
    try:
        values = msg.get_all(name) or []
        return normalize_line(", ".join(str(v) for v in values))
    except Exception:  # a malformed header must not lose the rest of the message
        return ""


def _body_part(msg: EmailMessage) -> Message | None:
    """The part read as the body: text/plain if there is one, else text/html; None if neither."""
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        return None


def _part_text(part: Message) -> tuple[str, str | None]:
    """The text of a text part (HTML converted), with a warning when its charset was wrong."""
    raw = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    warning = None
    try:
        text = decode_text(raw, "body", declared=charset)
    except ParseFailure:
        text, warning = "", "the body is not text and was left out"
    if part.get_content_type() == "text/html":
        from ingest.parsers.html import html_to_text

        text = html_to_text(text)
    return text, warning


def _attachments(msg: Message, body: Message | None) -> tuple[list[Message], list[Message]]:
    """(attachments, extra inline text parts): leaf parts other than the body and its other renderings.

    Attached e-mails stay whole (they are parsed as .eml attachments).
    """
    found: list[Message] = []
    texts: list[Message] = []

    def contains(part: Message, target: Message) -> bool:
        if part is target:
            return True
        return part.is_multipart() and part.get_content_maintype() == "multipart" and any(
            contains(p, target) for p in part.get_payload()
        )

    def visit(part: Message) -> None:
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            children = part.get_payload()
            if part.get_content_subtype() == "alternative" and body is not None and contains(part, body):
                children = [c for c in children if contains(c, body)]  # other renderings of the body
            for child in children:
                visit(child)
            return
        if part is body:
            return
        disposition = part.get_content_disposition()
        if disposition != "attachment" and part.get("Content-ID") and part.get_content_maintype() == "image":
            return  # an image embedded in the HTML body, not something the sender attached
        if disposition != "attachment" and not part.get_filename() and part.get_content_maintype() == "text":
            texts.append(part)  # an extra inline text part, e.g. a list footer: more body text
            return
        found.append(part)

    visit(msg)
    return found, texts


def _attachment_name(part: Message, number: int) -> str:
    """The attachment's file name, made safe for a source path; a made-up one if it has none."""
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    name = _UNSAFE_NAME.sub("_", name).strip().strip(".")
    if name:
        return name
    ctype = part.get_content_type()
    # fixed for the two that matter: mimetypes' answer can depend on the machine's mime.types
    ext = {"message/rfc822": ".eml", "text/plain": ".txt"}.get(ctype) or mimetypes.guess_extension(ctype) or ""
    return f"attachment-{number}{ext}"


def _unique(name: str, used: set[str]) -> str:
    """`name`, or `name (2).ext`... when an earlier attachment already has it (sources must be unique)."""
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
    used.add(candidate)
    return candidate


def _attachment_bytes(part: Message) -> bytes | None:
    try:
        if part.get_content_type() == "message/rfc822" and part.is_multipart():
            return part.get_payload(0).as_bytes(policy=policy.default)
        return part.get_payload(decode=True)
    except Exception:
        return None
