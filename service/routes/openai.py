"""OpenAI-compatible models and chat completions: model `ragkit/<collection>/<method>[:<adapter>]`.

The answer is the method's final answer: a method checks it against its sources (and may turn
it into an abstention) before it commits to it, so a stream starts sending text once that check
is done, with SSE comments as keep-alives meanwhile. Sources ride along in a `ragkit` field.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from typing import Any, AsyncIterator, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ragkit.errors import NotFound, RagkitError, UsageError
from ragkit.storage.keys import Principal
from service.auth import Caller, check_access
from service.observe import request_id
from service.state import ServiceState, state

router = APIRouter(prefix="/v1", tags=["openai"])
log = logging.getLogger("ragkit.service")

MODEL_RE = re.compile(r"^ragkit/(?P<c>[^/]+)/(?P<method>[a-z-]+)(?::(?P<adapter>[^/]+))?$")
KEEPALIVE_S = 5.0


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """OpenAI's request; sampling fields are accepted and ignored (ragkit's methods share one decoding setup)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="ragkit/<collection>/<method>[:<adapter>]")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ragkit"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/models", response_model=ModelList)
def list_models(request: Request, principal: Caller):
    """Every collection x method (and adapter) this key may use."""
    st = state(request)
    created = int(time.time())
    cards = []
    for name in st.kb.collections():
        if not principal.sees(name):
            continue
        try:
            methods = st.collection(name).available_methods()
            adapters = [a.name for a in st.kb.adapters.list(name)]
        except RagkitError as e:  # one bad row (a name no longer valid) must not hide the others
            log.error("models: collection %r left out: %s", name, e.message)
            continue
        for method in methods:
            cards.append(ModelCard(id=f"ragkit/{name}/{method}", created=created))
            if method.startswith("lora"):
                cards += [ModelCard(id=f"ragkit/{name}/{method}:{a}", created=created) for a in adapters]
    return ModelList(data=cards)


def _question(messages: list[ChatMessage]) -> str:
    """The last user message is the question; earlier turns are not used."""
    for msg in reversed(messages):
        if msg.role == "user":
            if isinstance(msg.content, list):
                return "\n".join(p.text for p in msg.content if p.type == "text" and p.text)
            return msg.content or ""
    raise UsageError("messages hold no user message to answer", code="invalid_request")


def _resolve(st: ServiceState, principal: Principal, model: str) -> tuple[str, str, str | None]:
    match = MODEL_RE.fullmatch(model)
    if not match:
        raise NotFound(f"model {model!r} not found: use ragkit/<collection>/<method>[:<adapter>] (see GET /v1/models)", code="model_not_found")
    check_access(st, principal, match["c"], "read")
    return match["c"], match["method"], match["adapter"]


def _ragkit_field(answer: dict) -> dict:
    return {k: answer[k] for k in ("method", "abstained", "citations", "latency_ms", "details")}


def _usage(answer: dict) -> dict:
    u = answer["usage"]
    return {"prompt_tokens": u["prompt_tokens"], "completion_tokens": u["completion_tokens"], "total_tokens": u["prompt_tokens"] + u["completion_tokens"]}


CHAT_RESPONSES = {
    200: {
        "description": "a chat.completion (JSON), or with `stream: true` chat.completion.chunk events (server-sent events, ending `data: [DONE]`)",
        "content": {
            "application/json": {},
            "text/event-stream": {  # OpenAPI 3.1: the schema of one event
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": {"type": "string", "description": "a chat.completion.chunk as JSON, an {error: {code, message}} object, or [DONE]"}},
                }
            },
        },
    }
}


@router.post("/chat/completions", responses=CHAT_RESPONSES)
async def chat_completions(body: ChatRequest, request: Request, principal: Caller):
    """Answer the last user message with the method the model id names."""
    st = state(request)
    collection, method, adapter = _resolve(st, principal, body.model)
    question = _question(body.messages)
    if not question.strip():
        raise UsageError("the user message is empty", code="empty_question")
    from ragkit.methods import check_method

    check_method(method)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def answer() -> dict:
        result = st.collection(collection).ask(question, method=method, adapter=adapter).to_dict()
        st.metrics.count_answer(result)
        return result

    if not body.stream:
        result = await run_in_threadpool(answer)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["answer"]}, "finish_reason": "stop"}],
            "usage": _usage(result),
            "ragkit": _ragkit_field(result),
        }
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(_stream(answer, completion_id, created, body.model, include_usage), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _stream(answer, completion_id: str, created: int, model: str, include_usage: bool) -> AsyncIterator[str]:
    def event(choices: list, **extra: Any) -> str:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices, **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    task = asyncio.ensure_future(run_in_threadpool(answer))
    yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    while True:
        done, _ = await asyncio.wait({task}, timeout=KEEPALIVE_S)
        if done:
            break
        yield ": working\n\n"
    try:
        result = task.result()
    except RagkitError as e:
        yield f"data: {json.dumps({'error': {'code': e.code, 'message': e.message}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    except Exception:  # the stream has started: the error goes in it, never as a broken connection
        log.exception("chat completion %s failed", completion_id)
        message = f"internal error; the server log has the details under request id {request_id.get()}"
        yield f"data: {json.dumps({'error': {'code': 'internal', 'message': message}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    for piece in re.findall(r"\S+\s*|\s+", result["answer"]):
        yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
    yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}], ragkit=_ragkit_field(result))
    if include_usage:
        yield event([], usage=_usage(result))
    yield "data: [DONE]\n\n"
