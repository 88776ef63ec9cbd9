"""`ragkit tune-embeddings` and `ragkit embedders list|use|delete`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import CollectionOpt, HomeOpt, JsonOpt, open_kb_from_cli, run, run_with_kb

embedders_app = typer.Typer(help="Tuned embedders of a collection.", no_args_is_help=True)


def tune_embeddings(
    collection: CollectionOpt = "default",
    name: Annotated[Optional[str], typer.Option("--name", help="Embedder name (default: tuned).")] = None,
    pairs: Annotated[
        Optional[Path],
        typer.Option("--pairs", help='Labelled pairs, JSON Lines of {"query", "positive"} or {"query", "source"}; default: pairs made from the collection itself.'),
    ] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, help="Training steps (default: three passes over the pairs, at most 300).")] = None,
    use: Annotated[bool, typer.Option("--use/--no-use", help="Switch the collection to the new embedder (re-embeds its chunks).")] = True,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Adapt the embedding model to the collection, save it in the home and switch the collection to it."""

    def body(kb, progress):
        from ragkit.embedding.tuning import tune_embeddings as tune

        return tune(kb, collection, name=name, pairs_file=pairs, steps=steps, use=use, progress=progress)

    def render(r):
        loss = f"; loss {r.loss_first:.3f} -> {r.loss_last:.3f}" if r.loss_first is not None else ""
        typer.echo(f"embedder {r.embedder}: {r.pairs} {r.source} pairs, {r.steps} steps in {r.seconds:.1f} s{loss}\n{r.path}")
        if r.switch:
            typer.echo(f"collection {r.collection} now uses it: {r.switch['chunks']} chunks re-embedded in {r.switch['seconds']:.1f} s")

    run_with_kb(as_json, home, body, render, progress=True)


@embedders_app.command("list")
def embedders_list(collection: CollectionOpt = "default", home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List a collection's tuned embedders and which one it uses (`stale`: trained before the collection last changed)."""

    def action():
        with open_kb_from_cli(home) as kb:
            kb.store(collection)
            return {"in_use": kb.embedders.in_use(collection) or "base", "embedders": kb.embedders.list(collection)}

    def render(result):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"embedders of {collection!r} (in use: {result['in_use']})")
        for col in ("name", "source", "pairs", "steps", "loss first -> last", "revision", "stale", "in use", "created"):
            table.add_column(col)
        for e in result["embedders"]:
            loss = f"{e.loss_first:.3f} -> {e.loss_last:.3f}" if e.loss_first is not None else ""
            table.add_row(
                e.name, e.source, str(e.pairs), str(e.steps), loss, str(e.revision), "yes" if e.stale else "", "yes" if e.in_use else "", e.created_at
            )
        Console().print(table)

    run(as_json, action, render)


@embedders_app.command("use")
def embedders_use(
    name: Annotated[str, typer.Argument(help="A tuned embedder's name, or `base` for the configured model.")],
    collection: CollectionOpt = "default",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Switch the collection to an embedder and re-embed its chunks (a killed run re-run finishes the job)."""

    def body(kb, progress):
        from ragkit.embedding.tuning import switch_embedder

        return switch_embedder(kb, collection, name, progress=progress)

    run_with_kb(as_json, home, body, progress=True, render=lambda r: typer.echo(f"collection {r.collection} uses {r.embedder}: {r.documents} documents, {r.chunks} chunks re-embedded in {r.seconds:.1f} s"))


@embedders_app.command("delete")
def embedders_delete(
    name: Annotated[str, typer.Argument(help="Embedder name.")], collection: CollectionOpt = "default", home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """Delete a tuned embedder (not the one in use)."""

    run_with_kb(as_json, home, lambda kb: {"deleted": kb.embedders.delete(collection, name)}, lambda r: typer.echo(f"deleted embedder {r['deleted'].name}"))


def register(app: typer.Typer) -> None:
    app.command("tune-embeddings")(tune_embeddings)
    app.add_typer(embedders_app, name="embedders")
