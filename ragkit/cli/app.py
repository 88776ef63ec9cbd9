"""The `ragkit` command: the composition root that mounts every command."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

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


def _bench_group():
    """`ragkit bench ...`: ingest, generate, retrieval and http mounted on one group."""
    from ingest.bench import register as register_bench
    from ragkit.cli.bench_generate import register as register_bench_generate
    from ragkit.cli.bench_retrieval import register as register_bench_retrieval
    from service.bench import register as register_bench_http

    holder = typer.Typer()
    bench_app = typer.Typer(help="Measure speed and quality; prints JSON.", no_args_is_help=True)
    holder.add_typer(bench_app, name="bench")
    register_bench(bench_app)
    register_bench_generate(bench_app)
    register_bench_retrieval(bench_app)
    register_bench_http(bench_app)
    return typer.main.get_group(holder).commands["bench"]


def _serve_command():
    from service.cli import register as register_serve

    holder = typer.Typer()
    register_serve(holder)
    return typer.main.get_group(holder).commands["serve"]


class _LazyRoot(TyperGroup):
    """The root group: `bench` and `serve` are built only when named (or for --help), so that the
    other commands start without importing the HTTP service (FastAPI and its routes: ~0.2 s)."""

    lazy = {"bench": _bench_group, "serve": _serve_command}

    def list_commands(self, ctx):
        return [*super().list_commands(ctx), *(name for name in self.lazy if name not in self.commands)]

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.commands[cmd_name] = self.lazy[cmd_name]()
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except Exception as e:  # click's UsageError (typer vendors click): a typo of a lazy name gets the same "Did you mean"
            from difflib import get_close_matches

            message = getattr(e, "message", None)
            if message and args and "Did you mean" not in message:
                matches = get_close_matches(args[0], [n for n in self.lazy if n not in self.commands])
                if matches:
                    e.message = f"{message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise


def build_app() -> typer.Typer:
    from ingest.cli import register as register_ingest

    app = typer.Typer(
        name="ragkit",
        help="Put private documents within an LLM's reach, and measure which way works best.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=_LazyRoot,
    )
    from ragkit.cli.answer import register as register_answer

    register_ingest(app)
    app.command("query")(query)
    register_answer(app)
    from ragkit.cli.evaluate import register as register_eval

    register_eval(app)
    from ragkit.cli.embedders import register as register_embedders

    register_embedders(app)
    from ragkit.cli.keys import register as register_keys

    register_keys(app)
    return app


def main() -> None:
    from ragkit.process_defaults import apply_defaults

    apply_defaults()
    build_app()()


if __name__ == "__main__":
    main()
