"""Metadata filters (`--where`): a small JSON language evaluated in the manifest with SQL.

`{"doc_type": "pdf", "source": {"$glob": "policies/*"}, "page": {"$gte": 2}}` — keys are
chunk metadata keys (source, doc_id, root, doc_type, page, heading, element_type, title, ...),
all conditions must hold. Operators: $eq $ne $in $nin $gt $gte $lt $lte $glob.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ragkit.errors import UsageError

_OPS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_where(where: str | dict | None) -> dict | None:
    """Accepts a JSON string or a dict; validates it and returns the dict (None when empty)."""
    if where is None or where == "" or where == {}:
        return None
    if isinstance(where, str):
        try:
            where = json.loads(where)
        except json.JSONDecodeError as e:
            raise UsageError(f"--where is not valid JSON: {e}", code="invalid_filter") from e
    if not isinstance(where, dict):
        raise UsageError("--where must be a JSON object such as {\"doc_type\": \"pdf\"}", code="invalid_filter")
    for key, cond in where.items():
        if not _KEY_RE.fullmatch(key):
            raise UsageError(f"filter key {key!r} is not a metadata key name", code="invalid_filter")
        if isinstance(cond, dict):
            for op, value in cond.items():
                if op not in _OPS and op not in ("$in", "$nin", "$glob"):
                    raise UsageError(f"filter operator {op!r} on {key!r} is unknown", code="invalid_filter")
                if op in ("$in", "$nin") and not isinstance(value, list):
                    raise UsageError(f"{op} on {key!r} needs a list", code="invalid_filter")
                if op == "$glob" and not isinstance(value, str):
                    raise UsageError(f"$glob on {key!r} needs a string pattern", code="invalid_filter")
        elif not isinstance(cond, (str, int, float, bool)):
            raise UsageError(f"filter value for {key!r} must be a scalar or an operator object", code="invalid_filter")
    return where


def where_to_sql(where: dict) -> tuple[str, list[Any]]:
    """The filter as a SQL condition over the chunks table's JSON metadata."""
    clauses: list[str] = []
    args: list[Any] = []
    for key, cond in where.items():
        col = f"json_extract(metadata, '$.{key}')"
        conds = cond if isinstance(cond, dict) else {"$eq": cond}
        for op, value in conds.items():
            if op in _OPS:
                clauses.append(f"{col} {_OPS[op]} ?")
                args.append(_sql_value(value))
            elif op in ("$in", "$nin"):
                marks = ",".join("?" * len(value)) or "NULL"
                clauses.append(f"{col} {'IN' if op == '$in' else 'NOT IN'} ({marks})")
                args.extend(_sql_value(v) for v in value)
            elif op == "$glob":
                clauses.append(f"{col} GLOB ?")
                args.append(value)
    return " AND ".join(clauses) or "1", args


def _sql_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value
