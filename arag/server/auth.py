"""API keys shared by both hosts: ``Authorization: Bearer <key>`` or ``X-Api-Key`` → a name.

``X-Api-Key`` is what ``langgraph_sdk.get_client(api_key=...)`` and LangChain's agent-chat-ui
send; ``Authorization: Bearer`` is what OpenAI clients send. Either works on both hosts.

The name is the owner recorded with each thread; the key itself is never stored or logged.
"""

from __future__ import annotations

import hmac

from arag.server.errors import unauthorized

LOCAL_OWNER = "local"
"""Owner of every thread when no key is configured (and of threads made by ``arag ask``)."""


def owner_for(authorization: str | None, keys: dict[str, str], api_key: str | None = None) -> str:
    """The key name for an ``Authorization`` or ``X-Api-Key`` header; a 401 ``ApiError`` else.

    With no keys configured everyone is ``LOCAL_OWNER``. Every configured key is compared in
    constant time, so timing does not reveal how much of a key was right.
    """
    if not keys:
        return LOCAL_OWNER
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    token = token or (api_key or "").strip()
    if not token:
        raise unauthorized(
            "Missing API key: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'."
        )
    owner = None
    for key, name in keys.items():
        if hmac.compare_digest(key.encode(), token.encode()):
            owner = name
    if owner is None:
        raise unauthorized("Invalid API key.")
    return owner
