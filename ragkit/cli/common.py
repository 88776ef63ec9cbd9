"""What every CLI command shares: common options, one place that turns results and errors into output."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional

import typer

from ragkit.errors import RagkitError, UsageError

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="Data folder (default RAGKIT_HOME or ~/.local/share/ragkit).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")]
CollectionOpt = Annotated[str, typer.Option("-c", "--collection", help="Collection name.")]


def split_list(value: str | None) -> list[str] | None:
    """Comma-separated list arguments (`--methods rag,lora`)."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def to_jsonable(result: Any) -> Any:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, list):
        return [to_jsonable(r) for r in result]
    if isinstance(result, dict):
        return {k: to_jsonable(v) for k, v in result.items()}
    return result


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(error: RagkitError, as_json: bool) -> None:
    """Report an error in the command's output format and exit (2: usage, 1: could not proceed)."""
    if as_json:
        print_json(error.to_dict())
    else:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error[/] ({error.code}): {error.message}", highlight=False, markup=True)
    raise typer.Exit(2 if isinstance(error, UsageError) else 1)


def run(as_json: bool, action: Callable[[], Any], render: Callable[[Any], None] | None = None) -> Any:
    """Run a command body: JSON or rich output on success, one-line error otherwise."""
    try:
        result = action()
    except RagkitError as e:
        fail(e, as_json)
    except KeyboardInterrupt:
        raise typer.Exit(130)
    if as_json:
        print_json(result)
    elif render is not None:
        render(result)
    return result


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on a terminal (none with --json or when stdout is not a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield lambda stage, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield update


def open_kb_from_cli(home: Path | None, **overrides):
    from ragkit.knowledge_base import open_kb

    return open_kb(home=home, **overrides)


def run_with_kb(as_json: bool, home: Path | None, body: Callable[..., Any], render: Callable[[Any], None] | None = None, *, progress: bool = False) -> Any:
    """The common command body: open the home, run `body(kb)` (`body(kb, progress)` with a progress
    bar on a terminal when `progress`), close it, then print (see `run`)."""

    def action():
        with open_kb_from_cli(home) as kb:
            if not progress:
                return body(kb)
            with progress_bar(not as_json) as bar:
                return body(kb, bar)

    return run(as_json, action, render)
