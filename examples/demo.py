"""`make demo`: the main job on the example corpus, end to end on the embedded defaults.

Ingest the corpus, train a LoRA adapter with `ragkit finetune`'s default recipe but only 12 steps
(the full default trains for minutes; the eval questions excluded), ask one
question through every method, evaluate every method on a stratified dozen questions, and print
the table and the HTML report's path. Long-context is capped at 2,048 prompt tokens here so the
demo stays within minutes on a laptop CPU (`make eval-examples` runs the full set).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOME = Path(os.environ.get("RAGKIT_DEMO_HOME", HERE.parent / ".demo-home"))
OUT = HERE.parent / "out" / "demo"


def main() -> int:
    from rich.console import Console

    import ragkit
    from ingest.cli import render_ingest_report
    from ragkit.cli.answer import render_answers
    from ragkit.cli.common import progress_bar
    from ragkit.cli.evaluate import render_eval

    console = Console()
    started = time.perf_counter()
    settings = {"long_context_tokens": int(os.environ.get("RAGKIT_LONG_CONTEXT_TOKENS", 2048))}
    with ragkit.open(HOME, **settings) as kb, progress_bar(True) as progress:
        col = kb.collection("examples")
        console.rule("1. ingest the example corpus")
        render_ingest_report(col.ingest(HERE / "corpus", prune=True, progress=progress))

        console.rule("2. train a LoRA adapter: the default recipe, 12 steps (eval questions excluded)")
        adapters = [a for a in kb.adapters.list("examples") if a.name == "demo" and not a.stale]
        if adapters:
            console.print(f"adapter 'demo' is up to date ({adapters[0].steps} steps); keeping it")
        else:
            r = col.finetune(name="demo", exclude_eval=str(HERE / "evalset.jsonl"), steps=12, progress=progress)
            console.print(f"{r.examples} examples, {r.steps} steps in {r.seconds:.0f} s; fixed-batch loss {r.loss_first:.3f} -> {r.loss_last:.3f}")

        console.rule("3. one question, every method")
        question = "What is the domestic per diem under the 2024 travel policy?"
        render_answers(col.compare(question, adapter="demo").results, question)

        console.rule("4. evaluate every method on a stratified dozen questions")
        result = col.evaluate(HERE / "evalset.jsonl", adapter="demo", limit=12, out=OUT, progress=progress)
        render_eval(result)
    console.print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; home: {HOME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
