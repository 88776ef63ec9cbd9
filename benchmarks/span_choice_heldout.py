"""How the span answerer should choose, on held-out questions: candidate coverage and choosers compared.

    python benchmarks/wiki_to_evalset.py ../shared/data/wiki-newpages-2023-qa/film out/heldout-film \\
        --sample 80 --seed 7 --hold-out-docs 30 --unanswerable 20
    RAGKIT_HOME=.heldout-home python benchmarks/span_choice_heldout.py out/heldout-film -c heldout \\
        --out docs/results/span-choice-heldout.json

For each answerable question, rag's retrieval and evidence ranking run as in `ragkit eval` (the
generator's own answer is not generated: only the span choice is measured). For the top 1, 2 and 3
evidence sentences this records whether a sentence holds the gold answer (the ceiling of any
chooser), whether a candidate span answers strictly, and the strict accuracy of each chooser:

- `mean`: the candidate's mean token log-probability after the rag prompt (Brown et al. 2020);
- `sum`: its summed log-probability (favours short candidates);
- `pmi`: mean log-probability with the question minus without it (the same evidence, the question
  line left out): how much the question raises the candidate, Holtzman et al. 2021, "Surface Form
  Competition", domain-conditional PMI;
- `first`: the first candidate (kind order, then sentence order): no model at all;
- `mean_proximity`: what ragkit ships, `mean` minus `PROXIMITY_WEIGHT` times log(1 + the words
  between the candidate and the nearest question word in its sentence), from the recorded scores.

Prints JSON; `--out` writes it. Scores are cached per question in `--cache` (resumable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHOOSERS = ("mean", "sum", "pmi", "first")
# computed from the recorded candidates: what ragkit ships (mean minus PROXIMITY_WEIGHT * log(1 + words to the question))
SHIPPED = "mean_proximity"


def choose(name: str, spans, cond, uncond) -> int:
    if name == "first":
        return 0
    if name == "sum":
        return max(range(len(spans)), key=lambda i: cond[i].logprob)
    if name == "mean":
        return max(range(len(spans)), key=lambda i: cond[i].mean)
    return max(range(len(spans)), key=lambda i: cond[i].mean - uncond[i].mean)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, help="a folder with evalset.jsonl (benchmarks/wiki_to_evalset.py)")
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--sentences", default="1,2,3")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--cache", type=Path, default=ROOT / "out" / "span-choice-cache.jsonl")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from ragkit.evaluation.evalset import load_evalset
    from ragkit.evaluation.metrics import strict_accuracy
    from ragkit.generation.base import Completion
    from ragkit.knowledge_base import KnowledgeBase
    from ragkit.methods import spans as spans_module
    from ragkit.methods.prompts import INSTRUCTION_WITH_SOURCES, build_messages, render_sources
    from ragkit.generation.base import Message
    from ragkit.process_defaults import apply_defaults
    from ragkit.settings import load_settings

    apply_defaults()
    settings = load_settings()
    kb = KnowledgeBase(settings)
    col = kb.collection(args.collection)
    gen = kb.generator
    questions = [q for q in load_evalset(args.folder / "evalset.jsonl") if q.answerable][: args.limit]
    sizes = [int(x) for x in args.sentences.split(",")]
    cache = {}
    if args.cache.exists():
        cache = {r["id"]: r for r in map(json.loads, args.cache.open(encoding="utf-8"))}
    args.cache.parent.mkdir(parents=True, exist_ok=True)

    seen: dict = {}

    def record(generator, question, model_text, ranked, citations, sources, s, info, adapter=None):
        seen.update(ranked=ranked, sources=sources)
        return "", True, citations

    spans_module.span_answer = record  # rag runs retrieval and evidence ranking, then hands them here
    gen.generate = lambda messages, **kw: Completion(text="", prompt_tokens=0, completion_tokens=0)
    rows = []
    for k, q in enumerate(questions):
        if q.id in cache:
            rows.append(cache[q.id])
            continue
        seen.clear()
        col.ask(q.question, "rag")
        ranked, sources = seen.get("ranked") or [], seen.get("sources") or []
        row = {"id": q.id, "kind": q.kind, "question": q.question, "asked": spans_module.asked_kind(q.question), "by_size": {}}
        for n in sizes:
            shown = ranked[:n]
            texts = [e["text"] for e in shown]
            spans = spans_module.candidates(q.question, texts)
            res = {
                "gold_in_sentences": any(strict_accuracy(t, q) for t in texts),
                "gold_in_candidates": any(strict_accuracy(x.text, q) for x in spans),
                "candidates": len(spans),
            }
            if spans:
                evid = spans_module.evidence_sources(shown, sources, n)
                cond = gen.score(build_messages(q.question, evid), [x.text for x in spans])
                plain = [Message("system", INSTRUCTION_WITH_SOURCES), Message("user", f"Sources:\n<<<\n{render_sources(evid)}\n>>>\n\nAnswer:")]
                uncond = gen.score(plain, [x.text for x in spans])
                for name in CHOOSERS:
                    i = choose(name, spans, cond, uncond)
                    res[name] = {"text": spans[i].text, "strict": strict_accuracy(spans[i].text, q)}
                res["sentences"] = texts
                res["spans"] = [
                    {"text": x.text, "kind": x.kind, "sentence": x.sentence, "mean": round(c.mean, 4), "sum": round(c.logprob, 4),
                     "plain_mean": round(u.mean, 4), "strict": strict_accuracy(x.text, q)}
                    for x, c, u in zip(spans, cond, uncond)
                ]  # fmt: skip
            else:
                for name in CHOOSERS:
                    res[name] = {"text": None, "strict": 0.0}
            row["by_size"][str(n)] = res
        rows.append(row)
        with args.cache.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"{k + 1}/{len(questions)} {q.id}", file=sys.stderr)

    def shipped(row: dict, res: dict) -> float:
        """Strict accuracy of the chooser ragkit ships (spans.best_fit), over the recorded candidates and scores."""
        if not res.get("spans"):
            return 0.0
        recorded = [spans_module.Span(x["text"], x["kind"], x["sentence"]) for x in res["spans"]]
        i = spans_module.best_fit(row["question"], recorded, [x["mean"] for x in res["spans"]], res["sentences"])
        return res["spans"][i]["strict"]

    summary = {"questions": len(rows), "evalset": str(args.folder / "evalset.jsonl"), "proximity_weight": spans_module.PROXIMITY_WEIGHT, "by_sentences": {}}
    for n in sizes:
        rs = [r["by_size"][str(n)] for r in rows]
        summary["by_sentences"][str(n)] = {
            "gold_in_sentences": round(sum(r["gold_in_sentences"] for r in rs) / len(rs), 4),
            "gold_in_candidates": round(sum(r["gold_in_candidates"] for r in rs) / len(rs), 4),
            "mean_candidates": round(sum(r["candidates"] for r in rs) / len(rs), 1),
            **{f"strict_{c}": round(sum(r[c]["strict"] for r in rs) / len(rs), 4) for c in CHOOSERS},
            f"strict_{SHIPPED}": round(sum(shipped(row, row["by_size"][str(n)]) for row in rows) / len(rows), 4),
        }
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
