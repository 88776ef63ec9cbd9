"""Check examples/evalset.jsonl against examples/corpus/.

Checks that every line parses as a JSON object with id/question/answer, that ids are unique,
that every `source` exists (archive members and e-mail attachments are looked up inside their
container), and that for every answerable question the answer (case-insensitive, whitespace
normalised) occurs in the extracted text of its source — for a list of sources, in at least
one of them. Unanswerable questions must have answer "UNANSWERABLE" and source [].
Superseded questions must list the outdated value(s) in `wrong`.

Also prints the kind counts and the word count of every corpus document.

Run from the repository root:  .venv/bin/python examples/check_evalset.py
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import email
import email.policy
import html.parser
import io
import json
import re
import sys
import zipfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
EVALSET = HERE / "evalset.jsonl"
CONTAINERS = (".zip", ".eml")
KINDS = {"lookup", "table", "multi-hop", "superseded", "unanswerable"}


# ---------------------------------------------------------------------------- text extraction

class _HTMLText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _html_text(data: bytes) -> str:
    p = _HTMLText()
    p.feed(data.decode("utf-8"))
    return " ".join(p.parts)


def _pdf_text(data: bytes) -> str:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def _docx_text(data: bytes) -> str:
    import docx

    doc = docx.Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _pptx_text(data: bytes) -> str:
    from pptx import Presentation

    prs = Presentation(io.BytesIO(data))
    parts = []
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _xlsx_text(data: bytes) -> str:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    parts = []
    for ws in wb.worksheets:
        parts.append(ws.title)
        for row in ws.iter_rows(values_only=True):
            parts.append(" | ".join("" if v is None else str(v) for v in row))
    return "\n".join(parts)


def _eml_parts(data: bytes) -> tuple[str, dict[str, bytes]]:
    """(text of the message's own bodies, {attachment filename: bytes})."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    bodies, attachments = [], {}
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            attachments[filename] = part.get_payload(decode=True)
        elif part.get_content_type() in ("text/plain", "text/html"):
            text = part.get_content()
            bodies.append(_html_text(text.encode()) if part.get_content_subtype() == "html"
                          else text)
    header = f"{msg['Subject']}\nFrom: {msg['From']}\nTo: {msg['To']}\nDate: {msg['Date']}\n"
    return header + "\n".join(bodies), attachments


def extract_text(name: str, data: bytes) -> str:
    ext = Path(name).suffix.lower()
    if ext in (".md", ".txt", ".csv", ".json", ".jsonl"):
        return data.decode("utf-8")
    if ext in (".html", ".htm"):
        return _html_text(data)
    if ext == ".pdf":
        return _pdf_text(data)
    if ext == ".docx":
        return _docx_text(data)
    if ext == ".pptx":
        return _pptx_text(data)
    if ext == ".xlsx":
        return _xlsx_text(data)
    if ext == ".eml":
        return _eml_parts(data)[0]
    raise ValueError(f"no text extractor for {name}")


def _member(container: str, data: bytes, inner: str) -> bytes:
    if container.lower().endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            try:
                return z.read(inner)
            except KeyError:
                raise FileNotFoundError(f"{inner} not in {container}") from None
    attachments = _eml_parts(data)[1]
    if inner not in attachments:
        raise FileNotFoundError(f"attachment {inner} not in {container}")
    return attachments[inner]


def source_text(source: str) -> str:
    """Text of a document source: a file, an archive member or an e-mail attachment."""
    parts = source.split("/")
    for i in range(1, len(parts) + 1):
        path = CORPUS.joinpath(*parts[:i])
        if path.is_file():
            data, name, rest = path.read_bytes(), "/".join(parts[:i]), parts[i:]
            break
    else:
        raise FileNotFoundError(source)
    while rest:  # descend into containers (nested containers supported)
        if not name.lower().endswith(CONTAINERS):
            raise FileNotFoundError(f"{source}: {name} is not a container")
        # the member path is the longest prefix of `rest` that exists in the container
        for j in range(len(rest), 0, -1):
            inner = "/".join(rest[:j])
            try:
                data = _member(name, data, inner)
            except FileNotFoundError:
                continue
            name, rest = inner, rest[j:]
            break
        else:
            raise FileNotFoundError(source)
    return extract_text(name, data)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


# ---------------------------------------------------------------------------- documents

def corpus_documents() -> list[str]:
    """Every document source in the corpus, with containers expanded."""
    docs = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(CORPUS).as_posix()
        if rel.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                docs += [f"{rel}/{n}" for n in z.namelist() if not n.endswith("/")]
        elif rel.endswith(".eml"):
            docs.append(rel)
            docs += [f"{rel}/{n}" for n in _eml_parts(path.read_bytes())[1]]
        else:
            docs.append(rel)
    return docs


# ---------------------------------------------------------------------------- the check

def main() -> int:
    errors: list[str] = []
    items = []
    for lineno, line in enumerate(EVALSET.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {lineno}: not JSON: {exc}")
            continue
        if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) and obj.get(k)
                                                for k in ("id", "question", "answer")):
            errors.append(f"line {lineno}: needs non-empty string id, question, answer")
            continue
        items.append((lineno, obj))

    if not items:
        errors.append("the eval set has no questions")
    ids = Counter(obj["id"] for _, obj in items)
    errors += [f"duplicate id {i!r} ({n} times)" for i, n in ids.items() if n > 1]

    cache: dict[str, str] = {}

    def text_of(src: str) -> str | None:
        if src not in cache:
            try:
                cache[src] = norm(source_text(src))
            except (FileNotFoundError, ValueError, zipfile.BadZipFile) as exc:
                errors.append(f"source {src!r}: {exc}")
                cache[src] = None  # type: ignore[assignment]
        return cache[src]

    for lineno, q in items:
        where = f"line {lineno} ({q['id']})"
        kind = q.get("kind")
        if kind not in KINDS:
            errors.append(f"{where}: unexpected kind {kind!r}")
        src = q.get("source", [])
        sources = [src] if isinstance(src, str) else src
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            errors.append(f"{where}: source must be a string or a list of strings")
            continue
        for key in ("aliases", "wrong"):
            if key in q and not (isinstance(q[key], list)
                                 and all(isinstance(a, str) for a in q[key])):
                errors.append(f"{where}: {key} must be a list of strings")
        if q["answer"] == "UNANSWERABLE":
            if sources:
                errors.append(f"{where}: unanswerable question with sources {sources}")
            if kind != "unanswerable":
                errors.append(f"{where}: answer UNANSWERABLE but kind {kind!r}")
            continue
        if kind == "unanswerable":
            errors.append(f"{where}: kind unanswerable but answer {q['answer']!r}")
        if not sources:
            errors.append(f"{where}: answerable question without source")
            continue
        if kind == "multi-hop" and len(sources) != 2:
            errors.append(f"{where}: multi-hop needs 2 sources, has {len(sources)}")
        if kind == "superseded" and not q.get("wrong"):
            errors.append(f"{where}: superseded question without `wrong`")
        texts = [text_of(s) for s in sources]
        if any(t is None for t in texts):
            continue
        answer = norm(q["answer"])
        if not any(answer in t for t in texts):
            errors.append(f"{where}: answer {q['answer']!r} not found in {sources}")
        for w in q.get("wrong", []):
            if norm(w) == answer or norm(w) in [norm(a) for a in q.get("aliases", [])]:
                errors.append(f"{where}: {w!r} is both right and wrong")

    # corpus overview
    docs = corpus_documents()
    print(f"corpus: {sum(1 for p in CORPUS.rglob('*') if p.is_file())} files, "
          f"{len(docs)} documents (archive members and attachments counted)")
    for d in docs:
        try:
            words = len(source_text(d).split())
        except Exception as exc:  # noqa: BLE001 - report every unreadable document
            errors.append(f"document {d}: cannot extract text: {exc}")
            continue
        print(f"  {words:5d} words  {d}")
    cited = {s for _, q in items for s in ([q["source"]] if isinstance(q.get("source"), str)
                                           else q.get("source", []))}
    unused = [d for d in docs if d not in cited]
    if unused:
        print(f"documents no question cites: {unused}")

    counts = Counter(q.get("kind") for _, q in items)
    print(f"\nevalset: {len(items)} questions")
    for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        print(f"  {kind:13s} {n}")

    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)")
        for e in errors:
            print("  " + e)
        return 1
    print("\nOK: every line parses, ids unique, sources exist, answers found in their sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
