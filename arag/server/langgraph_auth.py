"""``langgraph.json``'s ``auth.path``: bearer keys and thread ownership for the LangGraph API.

The same ``ARAG_API_KEYS`` as ``arag serve``. Each thread, run, cron and assistant created with a
key gets ``metadata.owner`` = the key's name, and reads are filtered on it, so one key never
sees another's threads (404). The graph's own assistant (created by the server, no owner) stays
readable by everyone. Studio in ``langgraph dev`` is the developer and sees everything.
"""

from __future__ import annotations

from langgraph_sdk import Auth
from langgraph_sdk.auth.types import StudioUser

from arag.server.auth import owner_for
from arag.server.errors import ApiError
from arag.server.settings import load_api_keys

auth = Auth()
_KEYS = load_api_keys()


@auth.authenticate
async def authenticate(
    authorization: str | None, headers: dict[bytes, bytes]
) -> Auth.types.MinimalUserDict:
    """Bearer or X-Api-Key key → the key's name as the identity (``local`` with no keys)."""
    api_key = headers.get(b"x-api-key")
    try:
        owner = owner_for(authorization, _KEYS, api_key.decode() if api_key else None)
    except ApiError as exc:
        raise Auth.exceptions.HTTPException(status_code=401, detail=exc.message) from None
    return {"identity": owner, "is_authenticated": True}


def _own(ctx: Auth.types.AuthContext, value: dict) -> Auth.types.FilterType | None:
    if isinstance(ctx.user, StudioUser):
        return None
    if ctx.action in ("create", "create_run") and isinstance(value, dict):
        metadata = value.get("metadata")
        if not isinstance(metadata, dict):
            metadata = value["metadata"] = {}
        metadata["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads
async def threads(ctx: Auth.types.AuthContext, value: dict) -> Auth.types.FilterType | None:
    """Threads and their runs: owned by the creating key, filtered on read."""
    return _own(ctx, value)


@auth.on.crons
async def crons(ctx: Auth.types.AuthContext, value: dict) -> Auth.types.FilterType | None:
    """Crons: owned like threads."""
    return _own(ctx, value)


@auth.on.assistants
async def assistants(ctx: Auth.types.AuthContext, value: dict) -> Auth.types.FilterType | None:
    """Assistants: anyone reads (the graph's own assistant has no owner); changes are owned."""
    if ctx.action in ("read", "search"):
        return None
    return _own(ctx, value)


@auth.on.store
async def store(ctx: Auth.types.AuthContext, value: dict) -> None:
    """The long-term store is not used by this graph; keep each key in its own namespace."""
    if isinstance(ctx.user, StudioUser):
        return
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != ctx.user.identity:
        raise Auth.exceptions.HTTPException(status_code=403, detail="store namespace not owned")
