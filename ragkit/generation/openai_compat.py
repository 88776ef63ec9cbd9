"""Generation through any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, Ollama).

Private text goes to a non-loopback server only when RAGKIT_ALLOW_REMOTE is true. An adapter is
addressed as a model name, the way vLLM serves LoRA modules (`--lora-modules name=path`).
"""

from __future__ import annotations

import logging
from typing import Sequence

from ragkit.errors import BackendError, ConfigError
from ragkit.generation.base import Completion, Message, cut_at_stop
from ragkit.net import is_loopback_url

log = logging.getLogger(__name__)


def error_detail(resp) -> tuple[str, str | None]:
    """The server's own error message and code from an error response, else the start of its body.

    OpenAI and llama.cpp send `{"error": {"message", "code"}}`, vLLM `{"message", "code"}`,
    Ollama `{"error": "..."}`.
    """
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, str) and err.strip():
            return err.strip()[:500], None
        if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"].strip():
            code = err.get("code")
            return err["message"].strip()[:500], code if isinstance(code, str) else None
    return resp.text[:300], None


class OpenAIGenerator:
    """Chat completions over HTTP (httpx); token counts come from the server's `usage`."""

    def __init__(self, base_url: str, model: str | None, api_key: str | None = None, *, allow_remote: bool = False, timeout: float = 120.0, context_window: int | None = None):
        if not base_url:
            raise ConfigError("the openai generator needs RAGKIT_OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1)")
        self.base_url = base_url.rstrip("/")
        self.remote = not is_loopback_url(self.base_url)
        if self.remote and not allow_remote:
            raise ConfigError(
                f"{self.base_url} is not on this machine; set RAGKIT_ALLOW_REMOTE=true to send private text to it",
                code="remote_not_allowed",
            )
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self._model = model
        self._context_window = context_window

    @property
    def model_id(self) -> str:
        return self.model

    @property
    def model(self) -> str:
        if not self._model:
            models = self._get("/models").get("data") or []
            if not models:
                raise BackendError(f"{self.base_url} lists no models; set RAGKIT_OPENAI_MODEL")
            self._model = models[0]["id"]
        return self._model

    def _get(self, path: str) -> dict:
        import httpx

        try:
            resp = self._client.get(path)
        except httpx.HTTPError as e:
            raise BackendError(f"cannot reach the generator at {self.base_url}: {e}", code="generator_unreachable") from e
        return self._json(resp)

    def _json(self, resp) -> dict:
        if resp.status_code >= 400:
            detail, server_code = error_detail(resp)
            overflow = resp.status_code == 400 and (server_code == "context_length_exceeded" or "context" in detail.lower())
            raise BackendError(
                f"the generator at {self.base_url} answered {resp.status_code}: {detail}",
                code="context_overflow" if overflow else "generator_error",
            )
        try:
            return resp.json()
        except ValueError as e:
            raise BackendError(f"the generator at {self.base_url} sent invalid JSON", code="generator_error") from e

    @property
    def context_window(self) -> int:
        if self._context_window is None:
            window = None
            try:
                for entry in self._get("/models").get("data", []):
                    if entry.get("id") == self.model:
                        meta = entry.get("meta") or {}
                        window = entry.get("max_model_len") or meta.get("n_ctx_train") or meta.get("n_ctx")
            except BackendError:
                window = None
            self._context_window = int(window or 4096)
        return self._context_window

    def count_tokens(self, text: str) -> int:
        """An estimate (about 4 characters a token): the server's tokenizer is not reachable in general."""
        return max(1, len(text) // 4)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m.content) + 4 for m in messages) + 2

    def generate(
        self,
        messages: Sequence[Message],
        max_tokens: int = 64,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        adapter: str | None = None,
        adapter_path=None,
    ) -> Completion:
        import httpx

        body = {
            "model": adapter or self.model,
            "messages": [m.to_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            body["stop"] = list(stop)[:4]
        try:
            resp = self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as e:
            raise BackendError(f"cannot reach the generator at {self.base_url}: {e}", code="generator_unreachable") from e
        data = self._json(resp)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as e:
            raise BackendError(f"the generator at {self.base_url} sent an unexpected response", code="generator_error") from e
        text, _ = cut_at_stop(text, stop)
        usage = data.get("usage") or {}
        return Completion(
            text=text.strip(),
            prompt_tokens=int(usage.get("prompt_tokens") or self.count_message_tokens(messages)),
            completion_tokens=int(usage.get("completion_tokens") or self.count_tokens(text)),
            finish_reason=choice.get("finish_reason") or "stop",
        )


def from_settings(settings) -> OpenAIGenerator:
    """The `openai` entry of the generator registry."""
    return OpenAIGenerator(
        settings.openai_base_url or "",
        settings.openai_model,
        settings.resolved_openai_api_key,
        allow_remote=settings.allow_remote,
        context_window=settings.openai_context_window,
    )
