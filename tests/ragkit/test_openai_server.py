"""OpenAIGenerator against a real OpenAI-compatible server: llama-cpp-python's, serving the bundled SmolLM2 on loopback."""

from __future__ import annotations

import sys

import httpx
import pytest

import ragkit
from ragkit.errors import BackendError
from ragkit.generation.base import Message
from ragkit.generation.openai_compat import OpenAIGenerator
from ragkit.model_paths import bundled_llm_path
from tests.conftest import free_port, loopback_server, write_corpus

pytestmark = pytest.mark.slow

MODEL = "smollm2"
N_CTX = 2048


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """`python -m llama_cpp.server` on a free 127.0.0.1 port for this module; stopped by its PID."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (the dev extra)")
    logs = tmp_path_factory.mktemp("llama-server")
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(bundled_llm_path()), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/v1/models", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    with loopback_server(cmd, logs / "server.log", ready, "llama_cpp.server"):
        yield url


@pytest.fixture
def gen(server) -> OpenAIGenerator:
    return OpenAIGenerator(server + "/v1", MODEL)


def ask(text: str) -> list[Message]:
    return [Message("user", text)]


def test_generate_returns_text_and_real_usage(gen):
    out = gen.generate(ask("What is the capital of France?"), max_tokens=16)
    assert isinstance(out.text, str) and out.text
    # real counts from the server's tokenizer, not the 4-characters-a-token estimate
    assert out.prompt_tokens > 0 and 0 < out.completion_tokens <= 16
    assert out.prompt_tokens != gen.count_message_tokens(ask("What is the capital of France?"))
    assert not gen.remote and gen.model_id == MODEL


def test_model_is_discovered_from_the_server(server):
    assert OpenAIGenerator(server + "/v1", None).model == MODEL


def test_max_tokens_is_honoured(gen):
    out = gen.generate(ask("Count from one to one hundred in words, separated by commas."), max_tokens=5)
    assert out.completion_tokens == 5 and out.finish_reason == "length"


def test_stop_sequences_end_the_answer(gen):
    prompt = ask("Count from 1 to 20, separated by commas, digits only.")
    full = gen.generate(prompt, max_tokens=48)
    assert "5" in full.text, full.text  # the model can count, so the stop test below means something
    stopped = gen.generate(prompt, max_tokens=48, stop=["5"])
    assert "5" not in stopped.text and full.text.startswith(stopped.text)
    assert stopped.completion_tokens < full.completion_tokens
    assert stopped.finish_reason == "stop"


def test_rag_through_the_server_cites_sources(server, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    with ragkit.open(tmp_path / "home", generator="openai", openai_base_url=server + "/v1", openai_model=MODEL, max_tokens=16) as kb:
        col = kb.collection("default")
        col.ingest(corpus)
        a = col.ask("How many amps does the Osprey 4 draw at full load?", method="rag")
    assert a.method == "rag" and a.answer
    assert a.citations and {c.source for c in a.citations} <= {"osprey-4-manual.md", "travel-policy.txt", "support.md"}
    assert a.details["retrieved"][0]["source"] == "osprey-4-manual.md"
    assert 0 < a.usage.completion_tokens <= 16 and a.usage.prompt_tokens > 0


def test_over_long_prompt_is_a_clear_backend_error(gen):
    too_long = ask("The Osprey 4 drill draws 2.8 A at full load. " * 400)  # ~5k tokens, window 2048
    with pytest.raises(BackendError) as info:
        gen.generate(too_long, max_tokens=16)
    err = info.value
    assert err.code == "context_overflow"
    assert "2048" in err.message and "context" in err.message.lower()
    assert "{" not in err.message  # the server's message, not its raw JSON body
