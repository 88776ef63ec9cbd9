"""The data owner's commands: `ragkit ingest` and `ragkit docs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import CollectionOpt, HomeOpt, JsonOpt, open_kb_from_cli, run, run_with_kb

docs_app = typer.Typer(help="See and remove ingested documents.", no_args_is_help=True)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to sync into the collection.", show_default=False)],
    collection: CollectionOpt = "default",
    prune: Annotated[bool, typer.Option("--prune", help="Delete documents of these roots that are no longer present.")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Parser processes (default: 2).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sync files into a collection: new -> add, changed -> replace, unchanged -> skip."""

    run_with_kb(
        as_json, home, lambda kb, progress: kb.collection(collection).ingest(paths, prune=prune, workers=workers, progress=progress), render_ingest_report, progress=True
    )


def render_ingest_report(report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"ingest into {report.collection!r} ({report.seconds:.1f} s)", show_header=True)
    for col in ("files", "added", "updated", "unchanged", "deleted", "skipped", "failed", "chunks +", "chunks -"):
        table.add_column(col, justify="right")
    table.add_row(
        *map(
            str,
            (report.files_seen, report.added, report.updated, report.unchanged, report.deleted, len(report.skipped), len(report.failed), report.chunks_added, report.chunks_deleted),
        )
    )
    console.print(table)
    for item in report.skipped:
        console.print(f"[yellow]skipped[/] {item.source}: {item.reason}", highlight=False)
    for item in report.failed:
        console.print(f"[red]failed[/] {item.source}: {item.error} - {item.message}", highlight=False)
    for item in report.warnings:
        console.print(f"[yellow]warning[/] {item.source}: {item.message}", highlight=False)


@docs_app.command("list")
def docs_list(collection: CollectionOpt = "default", home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List the documents of a collection."""

    def action():
        with open_kb_from_cli(home) as kb:
            return {"documents": kb.collection(collection).documents()}

    def render(result):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(result['documents'])} documents in {collection!r}")
        for col in ("source", "type", "chunks", "bytes", "date", "ingested", "doc_id"):
            table.add_column(col)
        for d in result["documents"]:
            when = f"{d.effective_date} ({d.date_origin})" if d.effective_date else ""
            table.add_row(d.source, d.doc_type or "", str(d.chunks), str(d.bytes), when, d.ingested_at, d.doc_id)
        Console().print(table)

    run(as_json, action, render)


@docs_app.command("show")
def docs_show(
    source: Annotated[str, typer.Argument(help="The document's source or doc_id.")],
    collection: CollectionOpt = "default",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one document and its chunks."""

    def action():
        with open_kb_from_cli(home) as kb:
            col = kb.collection(collection)
            info = col.document(source)
            keys = ("chunk_id", "ordinal", "start", "end", "text", "metadata")
            return {**info.to_dict(), "chunk_list": [{k: v for k, v in c.to_dict().items() if k in keys} for c in col.chunks_of(info.doc_id)]}

    def render(result):
        from rich.console import Console

        console = Console()
        console.print(f"[bold]{result['source']}[/] ({result['doc_type']}, {result['chunks']} chunks, doc_id {result['doc_id']})", highlight=False)
        for c in result["chunk_list"]:
            heading = c["metadata"].get("heading", "")
            console.print(f"[dim]#{c['ordinal']} {heading}[/]", highlight=False)
            console.print(c["text"][:400], highlight=False, markup=False)

    run(as_json, action, render)


@docs_app.command("delete")
def docs_delete(
    source: Annotated[str, typer.Argument(help="The document's source or doc_id.")],
    collection: CollectionOpt = "default",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a document and all its chunks from every index."""

    run_with_kb(as_json, home, lambda kb: {"deleted": kb.collection(collection).delete_document(source)}, lambda r: typer.echo(f"deleted {r['deleted'].source} ({r['deleted'].chunks} chunks)"))


def register(app: typer.Typer) -> None:
    """Mount the ingestion commands on the main CLI."""
    app.command("ingest")(ingest)
    app.add_typer(docs_app, name="docs")


__all__ = ["register"]
