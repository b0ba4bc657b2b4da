"""Two ``arag serve`` replicas over one PostgreSQL database and one shared data directory.

Real processes: both read the index and both write to it through the ingestion API. What one
ingests or deletes, the other cites or stops citing on its next query; uploads sent to both
at once are each stored once (the workspace's writer lock serializes them); a thread started
on one continues on the other, in its workspace.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.serving import arag_servers, scratch_postgres

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

KEY = "ops-key-0123456789abcdef"
ENV = {"ARAG_API_KEYS": f"ops:{KEY}", "ARAG_GRANTS": "ops read=* write=*"}
AUTH = {"Authorization": f"Bearer {KEY}"}
FALCON = b"# Falcon facts\n\nThe falcon named Peregrine nests on the cathedral tower in Ghent.\n"
OWL = b"# Owl facts\n\nThe owl named Hedwig sleeps in the old bell tower of Bruges.\n"


def ask(url: str, question: str, **headers: str) -> httpx.Response:
    body = {"model": "adaptive-rag", "messages": [{"role": "user", "content": question}]}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=AUTH | headers, timeout=60)


def cited(reply: httpx.Response) -> set[str]:
    assert reply.status_code == 200, reply.text
    return {c["source"] for c in reply.json()["citations"]}


async def upload(url: str, name: str, data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=120) as http:
        return await http.post(
            url + "/v1/workspaces/team/documents",
            headers=AUTH,
            files=[("file", (name, data, "text/markdown"))],
        )


def test_two_replicas_share_documents_and_threads(tmp_path, embeddings):
    from tools.ingest.pipeline import ingest

    data = tmp_path / "data"
    seed = tmp_path / "seed.md"
    seed.write_text("# Seed\n\nThe default workspace holds this page.\n")
    ingest([str(seed)], str(data), embeddings)  # /readyz wants the default index to open
    with (
        scratch_postgres() as dsn,
        arag_servers(2, data, tmp_path, ARAG_POSTGRES_DSN=dsn, **ENV) as (a, b),
    ):
        # written on both at once: the writer lock takes them one after the other
        async def both():
            return await asyncio.gather(
                upload(a.url, "falcon.md", FALCON), upload(b.url, "owl.md", OWL)
            )

        for reply in asyncio.run(both()):
            assert reply.status_code == 200, reply.text
            assert reply.json()["documents"][0]["status"] == "added"
        listed = httpx.get(b.url + "/v1/workspaces/team/documents", headers=AUTH, timeout=30)
        assert sorted((d["name"], d["chunks"]) for d in listed.json()["data"]) == [
            ("falcon.md", 1),
            ("owl.md", 1),
        ]

        # each replica answers from what the other ingested
        assert cited(
            ask(b.url, "Where does the falcon Peregrine nest?", **{"X-Workspace": "team"})
        ) == {"falcon.md"}
        assert cited(ask(a.url, "Where does the owl Hedwig sleep?", **{"X-Workspace": "team"})) == {
            "owl.md"
        }

        # a thread started on one replica continues on the other
        thread = {"X-Workspace": "team", "X-Thread-Id": "shared-thread"}
        assert ask(a.url, "Where does the falcon Peregrine nest?", **thread).status_code == 200
        assert ask(b.url, "And the owl Hedwig?", **thread).status_code == 200
        stored = httpx.get(
            a.url + "/v1/threads/shared-thread", headers=AUTH | {"X-Workspace": "team"}, timeout=30
        ).json()
        assert [m["role"] for m in stored["messages"]] == ["user", "assistant"] * 2
        # ... and in its workspace only, on either replica
        assert ask(b.url, "Again?", **{"X-Thread-Id": "shared-thread"}).status_code == 404

        # a delete on one replica: the other stops citing the document
        falcon_id = next(d["id"] for d in listed.json()["data"] if d["name"] == "falcon.md")
        gone = httpx.delete(
            a.url + f"/v1/workspaces/team/documents/{falcon_id}", headers=AUTH, timeout=60
        )
        assert gone.status_code == 200, gone.text
        question = "Where does the falcon Peregrine nest?"
        assert "falcon.md" not in cited(ask(b.url, question, **{"X-Workspace": "team"}))
