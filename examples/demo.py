"""`make demo`: ingest the example corpus into a demo home and ask a few questions of the index."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOME = Path(os.environ.get("RAGKIT_DEMO_HOME", HERE.parent / ".demo-home"))


def main() -> int:
    from rich.console import Console

    import ragkit
    from ingest.cli import render_ingest_report

    console = Console()
    console.rule("ragkit demo: ingest the example corpus")
    with ragkit.open(HOME) as kb:
        col = kb.collection("examples")
        report = col.ingest(HERE / "corpus", prune=True)
        render_ingest_report(report)
        questions = [json.loads(line) for line in (HERE / "evalset.jsonl").read_text().splitlines() if line.strip()]
        picks = [q for q in questions if q.get("answer") != "UNANSWERABLE"][:: max(1, len(questions) // 5)][:5]
        console.rule("hybrid retrieval")
        for q in picks:
            hits = col.query(q["question"], k=3).hits
            gold = q.get("source") or []
            gold = [gold] if isinstance(gold, str) else gold
            found = any(h.source in gold for h in hits)
            console.print(f"[bold]{q['question']}[/]  [dim](answer: {q['answer']}; gold source in top 3: {found})[/]", highlight=False)
            for h in hits:
                console.print(f"  {h.rank}. {h.source} [dim]{h.metadata.get('heading', '')} {h.score:.3f}[/]", highlight=False)
    console.print(f"\nhome: {HOME}  (try: .venv/bin/ragkit query \"...\" -c examples --home {HOME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
