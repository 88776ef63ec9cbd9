"""The installed llama.cpp build runs on this CPU: a batched prompt and a few decoded tokens, in a child process.

A build with kernels this CPU cannot run (a native build's AMX path segfaulted on batched
prompts) kills the child, and the test names the build instead of taking pytest down with it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from ragkit.model_paths import bundled_llm_path

SCRIPT = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=2048, n_threads=2, verbose=False)
prompt = "The quick brown fox jumps over the lazy dog. " * 60 + "What jumps over the dog?"
out = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], max_tokens=8, temperature=0)
print(out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"])
"""


def test_llama_cpp_generates_a_few_tokens_on_a_batched_prompt():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is part of the locked install")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(bundled_llm_path())], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"llama.cpp died with exit code {proc.returncode} (a negative code is the signal; -11 a segfault): "
        f"rebuild llama-cpp-python with `make setup` (LLAMA_CMAKE_ARGS)\n{proc.stderr[-2000:]}"
    )
    prompt_tokens, completion_tokens = map(int, proc.stdout.split())
    assert prompt_tokens > 512  # more than one batch of prompt tokens
    assert 1 <= completion_tokens <= 8
