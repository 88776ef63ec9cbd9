"""Who may do what: Bearer keys checked against the home's key store; 401, then 404, then 403.

A key without any right on a collection gets 404 for it, exactly as if it did not exist, so keys
cannot probe for collection names; a key with a right but the wrong scope gets 403.
"""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, Request

from ragkit.errors import Forbidden, NotFound, Unauthorized
from ragkit.storage.keys import Principal
from service.state import ServiceState, state


def authenticate(st: ServiceState, authorization: str) -> Principal:
    """The principal behind an `Authorization: Bearer <key>` header value; Unauthorized otherwise."""
    if not st.auth:
        return Principal.unrestricted()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this route needs an API key: send `Authorization: Bearer <key>` (create one with `ragkit keys create`)")
    principal = st.keys.authenticate(token.strip())
    if principal is None:
        raise Unauthorized("the API key is not valid or has been revoked")
    return principal


def caller(request: Request) -> Principal:
    """The caller of this request, authenticated by `service.limits.RequestGuard` before its body was read."""
    from service.limits import PRINCIPAL_KEY

    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is None:  # a route outside /v1/ asking for a caller
        principal = authenticate(state(request), request.headers.get("authorization", ""))
    request.state.key_id = principal.key_id
    return principal


Caller = Annotated[Principal, Depends(caller)]


def collection_not_found(name: str) -> NotFound:
    return NotFound(f"collection {name!r} not found", code="collection_not_found")


def check_access(st: ServiceState, principal: Principal, collection: str, scope: str, *, must_exist: bool = True) -> None:
    """404 when the key has no right on the collection (or it does not exist), 403 when the scope is missing."""
    if not principal.sees(collection):
        raise collection_not_found(collection)
    if not principal.may(scope):
        raise Forbidden(f"this key may not {scope} in collection {collection!r} (its scopes: {', '.join(principal.scopes)})")
    if must_exist and not st.kb.manifest.has_collection(collection):
        raise collection_not_found(collection)


def access(scope: str) -> Callable:
    """A dependency for routes under /v1/collections/{c}: checks the caller's right on `c`."""

    def dependency(c: str, request: Request, principal: Caller) -> str:
        check_access(state(request), principal, c, scope)
        return c

    return dependency


Readable = Annotated[str, Depends(access("read"))]
Writable = Annotated[str, Depends(access("write"))]
Administrable = Annotated[str, Depends(access("admin"))]
