"""``langgraph.json``'s ``auth.path``: bearer keys and thread ownership for the LangGraph API.

The same ``ARAG_API_KEYS`` as ``arag serve``. Each thread, run, cron and assistant created with a
key gets ``metadata.owner`` = the key's name, and reads are filtered on it, so one key never
sees another's threads (404). The graph's own assistant (created by the server, no owner) stays
readable by everyone. Studio in ``langgraph dev`` is the developer and sees everything.

Workspaces (``ARAG_GRANTS``, see ``arag.server.access``): every run's context names the
workspace it reads. A run whose context (or ``configurable``) names one the key may not read,
or one that does not exist, is refused with 404; a run naming none gets the default
workspace written into its context, so an assistant's stored context cannot widen a key's
access. An assistant whose context names a workspace is checked the same way when created.
"""

from __future__ import annotations

from langgraph_sdk import Auth
from langgraph_sdk.auth.types import StudioUser

from arag.server.access import Access
from arag.server.auth import owner_for
from arag.server.errors import ApiError
from arag.server.settings import load_api_keys, load_grants
from graph.config import Context
from tools.index.filters import DocFilter, FilterError

auth = Auth()
_KEYS = load_api_keys()
_ACCESS = Access(load_grants(_KEYS), Context().data_dir, keyed=bool(_KEYS))


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


async def _check_workspace(ctx: Auth.types.AuthContext, settings: dict) -> str:
    """The workspace ``settings`` (a run's or an assistant's context) names, if readable.

    Raises a 404 (a 400 for a malformed name) as ``/v1`` answers.
    """
    try:
        return await _ACCESS.areadable(ctx.user.identity, settings.get("workspace"))
    except ApiError as exc:
        raise Auth.exceptions.HTTPException(status_code=exc.status, detail=exc.message) from None


async def _run_workspace(ctx: Auth.types.AuthContext, value: dict) -> None:
    """Check a new run's workspace and write it into the run's context and configurable."""
    kwargs = value.get("kwargs")
    if not isinstance(kwargs, dict):
        return
    context = kwargs.get("context")
    if not isinstance(context, dict):
        context = kwargs["context"] = {}
    config = kwargs.get("config")
    configurable = (config or {}).get("configurable") if isinstance(config, dict) else None
    named = dict(configurable or {}) | context  # context wins, as LangGraph merges them
    workspace = await _check_workspace(ctx, named)
    try:
        DocFilter.parse(named.get("filters"))
    except FilterError as exc:
        raise Auth.exceptions.HTTPException(status_code=400, detail=str(exc)) from None
    context["workspace"] = workspace
    if isinstance(configurable, dict):
        configurable["workspace"] = workspace


@auth.on.threads
async def threads(ctx: Auth.types.AuthContext, value: dict) -> Auth.types.FilterType | None:
    """Threads and their runs: owned by the creating key, filtered on read; a run reads only
    a workspace the key may read.
    """  # noqa: D205
    if ctx.action == "create_run" and not isinstance(ctx.user, StudioUser):
        await _run_workspace(ctx, value)
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
    if ctx.action in ("create", "update") and not isinstance(ctx.user, StudioUser):
        context = value.get("context")
        if isinstance(context, dict) and "workspace" in context:
            await _check_workspace(ctx, context)
    return _own(ctx, value)


@auth.on.store
async def store(ctx: Auth.types.AuthContext, value: dict) -> None:
    """The long-term store is not used by this graph; keep each key in its own namespace."""
    if isinstance(ctx.user, StudioUser):
        return
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != ctx.user.identity:
        raise Auth.exceptions.HTTPException(status_code=403, detail="store namespace not owned")
