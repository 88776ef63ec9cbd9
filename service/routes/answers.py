"""Retrieval and answers: query, answer with one method, compare several; the CLI's JSON."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ragkit.types import Answer, Comparison, QueryResult
from service.auth import Readable
from service.state import state

router = APIRouter(prefix="/v1/collections/{c}", tags=["answers"])


class QueryRequest(BaseModel):
    query: str = Field(min_length=1)
    k: int = Field(default=10, ge=1, le=1000)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    where: dict[str, Any] | None = Field(default=None, description='metadata filter, e.g. {"doc_type": "pdf"}')


class AnswerRequest(BaseModel):
    question: str = Field(min_length=1)
    method: str = "rag"
    adapter: str | None = None


class CompareRequest(BaseModel):
    question: str = Field(min_length=1)
    methods: list[str] | None = Field(default=None, description="default: every method that can run")
    adapter: str | None = None


@router.post("/query", response_model=QueryResult)
def query(c: Readable, body: QueryRequest, request: Request):
    """The k best chunks for a query."""
    return state(request).collection(c).query(body.query, k=body.k, mode=body.mode, where=body.where)


@router.post("/answer", response_model=Answer)
def answer(c: Readable, body: AnswerRequest, request: Request):
    """Answer a question with one method (default `rag`)."""
    st = state(request)
    result = st.collection(c).ask(body.question, method=body.method, adapter=body.adapter)
    st.metrics.count_answer(result.to_dict())
    return result


@router.post("/compare", response_model=Comparison)
def compare(c: Readable, body: CompareRequest, request: Request):
    """Several methods on one question; a method that cannot run reports its error in place."""
    st = state(request)
    result = st.collection(c).compare(body.question, methods=body.methods, adapter=body.adapter)
    for item in result.results:
        st.metrics.count_answer(item.to_dict())
    return result
