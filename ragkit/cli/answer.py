"""`ragkit ask`, `ragkit compare` and `ragkit adapters`: answers from the methods, on the terminal or as JSON."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ragkit.cli.common import CollectionOpt, HomeOpt, JsonOpt, open_kb_from_cli, run, run_with_kb, split_list

adapters_app = typer.Typer(help="Manage LoRA adapters trained on a collection.", no_args_is_help=True)
AdapterOpt = Annotated[Optional[str], typer.Option("--adapter", help="Adapter name (default: the newest).")]


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: CollectionOpt = "default",
    method: Annotated[str, typer.Option("--method", help="closed-book | rag | long-context | lora | lora-rag | self-route")] = "rag",
    adapter: AdapterOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer QUESTION with one method."""

    run_with_kb(as_json, home, lambda kb: kb.collection(collection).ask(question, method=method, adapter=adapter), lambda a: render_answers([a]))


def compare(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: CollectionOpt = "default",
    methods: Annotated[Optional[str], typer.Option("--methods", help="Comma-separated methods (default: every one that can run).")] = None,
    adapter: AdapterOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Several methods on one question, side by side."""

    run_with_kb(as_json, home, lambda kb: kb.collection(collection).compare(question, methods=split_list(methods), adapter=adapter), lambda c: render_answers(c.results, c.question))


def render_answers(results, question: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=question, show_lines=True)
    for col in ("method", "answer", "citations", "tokens in/out", "ms"):
        table.add_column(col, overflow="fold")
    for r in results:
        if hasattr(r, "error"):
            table.add_row(r.method, f"[red]{r.error['code']}[/]: {r.error['message']}", "", "", "")
            continue
        cites = ", ".join(f"[{c.n}] {c.source}" for c in r.citations if c.cited) or ", ".join(
            f"({c.n}) {c.source}" for c in r.citations
        )
        answer = r.answer + ("  [dim](abstained)[/]" if r.abstained else "")
        route = r.details.get("route")
        method = r.method + (f"\n[dim]via {route}[/]" if route else "")
        table.add_row(method, answer, cites, f"{r.usage.prompt_tokens}/{r.usage.completion_tokens}", f"{r.latency_ms:.0f}")
    Console().print(table)


@adapters_app.command("list")
def adapters_list(collection: CollectionOpt = "default", home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List a collection's adapters (`stale` ones were trained before the collection last changed)."""

    def action():
        with open_kb_from_cli(home) as kb:
            return {"adapters": kb.adapters.list(collection)}

    def render(result):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"adapters of {collection!r}")
        for col in ("name", "steps", "examples", "loss first -> last", "revision", "stale", "created"):
            table.add_column(col)
        for a in result["adapters"]:
            loss = f"{a.loss_first:.3f} -> {a.loss_last:.3f}" if a.loss_first is not None else ""
            table.add_row(a.name, str(a.steps), str(a.examples), loss, str(a.revision), "yes" if a.stale else "", a.created_at)
        Console().print(table)

    run(as_json, action, render)


@adapters_app.command("delete")
def adapters_delete(
    name: Annotated[str, typer.Argument(help="Adapter name.")], collection: CollectionOpt = "default", home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """Delete an adapter."""

    run_with_kb(as_json, home, lambda kb: {"deleted": kb.adapters.delete(collection, name)}, lambda r: typer.echo(f"deleted adapter {r['deleted'].name}"))


def finetune(
    collection: CollectionOpt = "default",
    name: Annotated[Optional[str], typer.Option("--name", help="Adapter name (default: lora).")] = None,
    data: Annotated[
        Optional[str],
        typer.Option(
            "--data",
            help="Builders, comma-separated: raw (the chunks), qa (--train-qa pairs), synthetic (the generator writes QA), "
            "facts (QA pairs from every sentence, Key: value line and table row, several phrasings, both directions; no LLM), "
            "raft (facts questions in the rag prompt, gold chunk in 80% of them, for lora-rag), "
            "distill (the base model reading the chunk teaches the adapter without it). Default: facts, plus qa with --train-qa.",
        ),
    ] = None,
    train_qa: Annotated[Optional[str], typer.Option("--train-qa", help="JSON Lines of question/answer pairs.")] = None,
    exclude_eval: Annotated[Optional[str], typer.Option("--exclude-eval", help="An eval set whose questions (and near duplicates of them) must not be trained on.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1)] = None,
    epochs: Annotated[Optional[float], typer.Option("--epochs", min=0.01)] = None,
    rank: Annotated[Optional[int], typer.Option("--rank", min=1, help="LoRA rank, alpha twice the rank (default 32).")] = None,
    targets: Annotated[
        Optional[str], typer.Option("--targets", help="Modules the adapter trains: attention (q,k,v,o), all-linear (plus gate,up,down; the default), or a comma list.")
    ] = None,
    raft_gold: Annotated[float, typer.Option("--raft-gold", min=0.0, max=1.0, help="Share of raft examples that show the gold chunk.")] = 0.8,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a LoRA adapter on the collection (resumes an interrupted run of the same data)."""
    from ragkit.finetune.train import LoraSettings, target_modules

    def body(kb, progress):
        from ragkit.finetune import finetune as train

        lora = LoraSettings(**({"rank": rank} if rank else {}), **({"target_modules": target_modules(targets)} if targets else {}))
        return train(
            kb, collection, name=name, data=split_list(data), train_qa=train_qa, exclude_eval_file=exclude_eval,
            steps=steps, epochs=epochs, lora=lora, raft_gold_share=raft_gold, progress=progress,
        )

    def render(r):
        typer.echo(
            f"adapter {r.adapter}: {r.examples} examples ({r.excluded} excluded), {r.steps} steps in {r.seconds:.1f} s, "
            f"fixed-batch loss {r.loss_first:.3f} -> {r.loss_last:.3f}\n{r.path}"
        )

    run_with_kb(as_json, home, body, render, progress=True)


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)
    app.command("ask")(ask)
    app.command("compare")(compare)
    app.add_typer(adapters_app, name="adapters")
