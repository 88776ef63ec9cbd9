"""Whether an upload is ingested in its request or by a job: by the work it is expected to take, not by its file count alone.

SPEC.md's ceiling (at most 20 files and 50 MB in a request) still holds; within it, an upload
runs in its request only when its expected ingest time is at most SYNC_BUDGET_S, so the answer
comes well inside a client's usual 30 s timeout. The expected time is the upload's size in
*chunk equivalents* times the server's own pace, seconds per chunk:

- a PDF counts its pages (from the page tree; 4 chunk equivalents a page: a full page of text is
  about 3 chunks, and pdfminer's layout pass costs about a third again, as measured);
- a zip (docx, pptx and xlsx are zips too) counts its members' unpacked bytes, leaving out those
  ingest will skip as too large;
- anything else counts its bytes, at BYTES_PER_CHUNK.

The pace starts from a probe at warm-up (the embedder on chunk-sized texts, times
INGEST_OVER_EMBED for parsing and writing) and then follows
every ingest this server runs (a moving average of seconds per chunk), so a slow or busy machine
sends smaller uploads to jobs than a fast one does.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from typing import Iterable

from ragkit.settings import Settings

SYNC_MAX_FILES = 20  # SPEC.md: up to this many files and bytes may be ingested in the request
SYNC_MAX_BYTES = 50 * 1000 * 1000
SYNC_BUDGET_S = 10.0  # expected seconds of work a request may take; a third of a usual 30 s client timeout
BYTES_PER_CHUNK = 850  # measured: 1 MB of prose made 1,177 chunks of the default 200 tokens
PDF_PAGE_CHUNKS = 4.0  # measured: 50 full pages made 150 chunks and took 1.35x their text's time
_ZIP_TYPES = (".zip", ".docx", ".pptx", ".xlsx")
PROBE_TEXTS = 8
# measured here: whole ingests took 1.3x to 5x the probe's seconds per chunk (a shared 2-core machine);
# the probe only starts the estimate, real ingests then correct it
INGEST_OVER_EMBED = 2.0
FIXED_S = 0.5  # BM25 rebuild, manifest commits: paid once per upload


def chunk_equivalents(source: str, data: bytes, settings: Settings) -> float:
    """The work one file is expected to cost, in chunks."""
    name = source.lower()
    if name.endswith(".pdf"):
        pages = pdf_pages(data)
        if pages is not None:
            return pages * PDF_PAGE_CHUNKS
    elif name.endswith(_ZIP_TYPES):
        unpacked = zip_unpacked_bytes(data, settings)
        if unpacked is not None:
            return unpacked / BYTES_PER_CHUNK
    return len(data) / BYTES_PER_CHUNK


def pdf_pages(data: bytes) -> int | None:
    """The page count a PDF's page tree declares, without parsing any page (None if unreadable)."""
    try:
        from pdfminer.pdfdocument import PDFDocument
        from pdfminer.pdfparser import PDFParser
        from pdfminer.pdftypes import resolve1

        doc = PDFDocument(PDFParser(io.BytesIO(data)))
        count = resolve1(resolve1(doc.catalog["Pages"])["Count"])
        return int(count) if isinstance(count, int) and count >= 0 else None
    except Exception:  # a broken PDF is estimated by its bytes; the parser will report it
        return None


def zip_unpacked_bytes(data: bytes, settings: Settings) -> int | None:
    """Unpacked bytes of the members ingest will read (each at most max_file_bytes, all at most archive_max_bytes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(i.file_size for i in zf.infolist() if not i.is_dir() and i.file_size <= settings.max_file_bytes)
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return min(total, settings.archive_max_bytes)


class IngestPace:
    """Seconds of ingest work per chunk on this server: probed at warm-up, then a moving average of real ingests."""

    def __init__(self, seconds_per_chunk: float = 0.2):
        self._lock = threading.Lock()
        self.seconds_per_chunk = seconds_per_chunk  # until the probe: about what this 2-core machine measured
        self.probed = False

    def probe(self, embedder) -> float:
        """Time the embedder on chunk-sized texts (the bulk of an ingest's work)."""
        text = " ".join(["The Osprey 4 drill draws 2.8 A at full load from its 18 V battery pack."] * 11)  # ~200 tokens
        embedder.embed_documents([text])  # first call pays for lazy set-up
        started = time.perf_counter()
        embedder.embed_documents([text] * PROBE_TEXTS)
        with self._lock:
            self.seconds_per_chunk = max(1e-4, INGEST_OVER_EMBED * (time.perf_counter() - started) / PROBE_TEXTS)
            self.probed = True
            return self.seconds_per_chunk

    def record(self, seconds: float, chunks: int) -> None:
        """Fold in a finished ingest (its whole time: parsing, embedding, writing)."""
        if chunks < PROBE_TEXTS or seconds <= 0:
            return  # too small to say anything beyond fixed costs
        with self._lock:
            self.seconds_per_chunk = 0.7 * self.seconds_per_chunk + 0.3 * (seconds / chunks)

    def expected_seconds(self, files: Iterable[tuple[str, bytes]], settings: Settings) -> float:
        return FIXED_S + sum(chunk_equivalents(source, data, settings) for source, data in files) * self.seconds_per_chunk


def runs_in_request(files: list[tuple[str, bytes]], pace: IngestPace, settings: Settings) -> tuple[bool, float]:
    """(ingest in the request?, expected seconds): within SPEC's ceiling and at most SYNC_BUDGET_S of expected work."""
    if len(files) > SYNC_MAX_FILES or sum(len(d) for _, d in files) > SYNC_MAX_BYTES:
        return False, float("inf")
    expected = pace.expected_seconds(files, settings)
    return expected <= SYNC_BUDGET_S, expected
