"""Write a BEIR corpus.jsonl out as one text file per record (title, blank line, text), for `ragkit bench ingest`.

    python benchmarks/beir_to_files.py ../shared/data/beir-scifact/corpus.jsonl /tmp/scifact-files
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(corpus: str, out: str) -> int:
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            title = (rec.get("title") or "").strip()
            body = (rec.get("text") or "").strip()
            (target / f"{rec['_id']}.txt").write_text(f"{title}\n\n{body}\n" if title else f"{body}\n", encoding="utf-8")
            n += 1
    print(json.dumps({"files": n, "folder": str(target)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
