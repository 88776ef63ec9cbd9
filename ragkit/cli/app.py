"""The `ragkit` command: the composition root that mounts every command."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ragkit.cli.common import CollectionOpt, HomeOpt, JsonOpt, run_with_kb


def query(
    text: Annotated[str, typer.Argument(help="What to look for.")],
    collection: CollectionOpt = "default",
    k: Annotated[int, typer.Option("-k", min=1, help="How many chunks.")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | dense | bm25")] = "hybrid",
    where: Annotated[Optional[str], typer.Option("--where", help='Metadata filter as JSON, e.g. {"doc_type": "pdf"}.')] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retrieve the chunks that best match TEXT."""

    def render(result):
        from rich.console import Console

        console = Console()
        if not result.hits:
            console.print("no hits")
        for hit in result.hits:
            where_in = hit.metadata.get("heading") or (f"page {hit.metadata['page']}" if "page" in hit.metadata else "")
            console.print(f"[bold]{hit.rank}.[/] {hit.source} [dim]{where_in} score {hit.score:.3f}[/]", highlight=False)
            console.print("   " + hit.text[:300].replace("\n", " "), highlight=False, markup=False)

    run_with_kb(as_json, home, lambda kb: kb.collection(collection).query(text, k=k, mode=mode, where=where), render)


def build_app() -> typer.Typer:
    from ingest.bench import register as register_bench
    from ingest.cli import register as register_ingest

    app = typer.Typer(
        name="ragkit",
        help="Put private documents within an LLM's reach, and measure which way works best.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    from ragkit.cli.answer import register as register_answer

    register_ingest(app)
    app.command("query")(query)
    register_answer(app)
    from ragkit.cli.evaluate import register as register_eval

    register_eval(app)
    from ragkit.cli.embedders import register as register_embedders

    register_embedders(app)
    bench_app = typer.Typer(help="Measure speed and quality; prints JSON.", no_args_is_help=True)
    app.add_typer(bench_app, name="bench")
    register_bench(bench_app)
    from ragkit.cli.bench_generate import register as register_bench_generate

    register_bench_generate(bench_app)
    from ragkit.cli.bench_retrieval import register as register_bench_retrieval

    register_bench_retrieval(bench_app)
    from ragkit.cli.keys import register as register_keys
    from service.bench import register as register_bench_http
    from service.cli import register as register_serve

    register_keys(app)
    register_serve(app)
    register_bench_http(bench_app)
    return app


def main() -> None:
    from ragkit.process_defaults import apply_defaults

    apply_defaults()
    build_app()()


if __name__ == "__main__":
    main()
