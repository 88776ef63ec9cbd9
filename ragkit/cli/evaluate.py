"""`ragkit eval`: which method wins on an eval set, by how much, at what cost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import CollectionOpt, HomeOpt, JsonOpt, run_with_kb, split_list


def eval_command(
    evalset: Annotated[Path, typer.Argument(help="Eval set (JSON Lines, one question per line).")],
    collection: CollectionOpt = "default",
    methods: Annotated[Optional[str], typer.Option("--methods", help="Comma-separated methods (default: every one that can run).")] = None,
    adapter: Annotated[Optional[str], typer.Option("--adapter", help="Adapter for lora / lora-rag (default: the newest).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="A seeded sample of N questions, stratified by kind.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for report.json, report.md, report.html.")] = None,
    judge: Annotated[bool, typer.Option("--judge", help="Add an LLM-judge column (needs an OpenAI-compatible server).")] = False,
    finetune_first: Annotated[bool, typer.Option("--finetune", help="Train an adapter first, with this eval set's questions excluded.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run methods over an eval set and write a report."""

    def body(kb, progress):
        col = kb.collection(collection)
        if finetune_first:
            col.finetune(name=adapter, exclude_eval=str(evalset), progress=progress)
        return col.evaluate(evalset, methods=split_list(methods), adapter=adapter, limit=limit, out=out, judge=judge, progress=progress)

    run_with_kb(as_json, home, body, render_eval, progress=True)


def render_eval(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from ragkit.evaluation.report import fmt

    console = Console()
    columns = [("strict_accuracy", "strict"), ("strict_ci95", "95% CI"), ("accuracy", "acc"), ("f1", "F1"), ("abstain_accuracy", "abstain"), ("retrieval_hit_at_5", "hit@5"), ("latency_p50_ms", "p50 ms"), ("prompt_tokens_mean", "prompt tok")]
    table = Table(title="eval (all columns in the report)")
    table.add_column("method", no_wrap=True)
    for _, label in columns:
        table.add_column(label, justify="right", no_wrap=True)
    for m, s in result["methods"].items():
        table.add_row(m, *(fmt(s.get(k)) for k, _ in columns))
    console.print(table)
    from ragkit.evaluation.report import winner_sentence

    console.print(winner_sentence({"winner": result["winner"]}), highlight=False)
    for w in result.get("warnings") or []:
        console.print(f"[yellow]warning[/] {w}", highlight=False)
    console.print(f"report: {result['report']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
