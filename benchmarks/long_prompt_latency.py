"""One long-context answer (a ~7.5k-token prompt, 64 answer tokens) through `local` and `llamacpp`: wall seconds each, as JSON.

Usage: python benchmarks/long_prompt_latency.py [--tokens 7500] [--generators local,llamacpp]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from ragkit.cli.bench_generate import FILLER
from ragkit.generation.base import Message
from ragkit.process_defaults import apply_defaults


def prompt_of(gen, tokens: int) -> list[Message]:
    text = FILLER * (tokens // 40 + 2)
    while gen.count_message_tokens([Message("user", text + "\nHow long is the warranty?")]) > tokens:
        text = text[: int(len(text) * 0.97)]
    return [Message("user", text + "\nHow long is the warranty?")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=7500)
    parser.add_argument("--generators", default="local,llamacpp")
    args = parser.parse_args()
    apply_defaults()
    cache = Path(os.environ.get("RAGKIT_CACHE_DIR", "~/.cache/ragkit")).expanduser()
    out = {"prompt_tokens_target": args.tokens, "cpu_count": os.cpu_count(), "results": {}}
    for name in args.generators.split(","):
        if name == "local":
            from ragkit.generation.local import LocalGenerator

            gen = LocalGenerator(None, cache)
        else:
            from ragkit.generation.llamacpp import LlamaCppGenerator

            gen = LlamaCppGenerator(None)
        messages = prompt_of(gen, args.tokens)
        gen.generate([Message("user", "Hi")], max_tokens=2)  # load and warm up
        t0 = time.perf_counter()
        c = gen.generate(messages, max_tokens=64)
        out["results"][name] = {"seconds": round(time.perf_counter() - t0, 2), "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens}
    if {"local", "llamacpp"} <= set(out["results"]):
        out["llamacpp_over_local"] = round(out["results"]["llamacpp"]["seconds"] / out["results"]["local"]["seconds"], 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
