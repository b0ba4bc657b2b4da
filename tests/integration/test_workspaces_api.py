"""Workspaces, per-key access and ingestion over the API, on the real ``arag serve`` app in
process (real index, real ingest pipeline, SQLite threads), offline.

Three keys: alice reads the default workspace and team-a and writes team-a; bob reads and
writes team-b; carol has no grant (the default workspace, read only, as before workspaces).
"""  # noqa: D205

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from arag.server import documents_api
from arag.server.app import local_app
from arag.server.settings import ServerSettings
from graph.config import Context
from tools.ingest.lock import writer_lock
from tools.ingest.pipeline import ingest

pytestmark = pytest.mark.integration

ALICE, BOB, CAROL = "alice-key-0123456789ab", "bob-key-0123456789abcd", "carol-key-0123456789ab"
GRANTS = "alice read=default,team-a write=team-a; bob read=team-b write=team-b"
ZEBRA = b"# Zebra facts\n\nThe zebra named Quagga lives in the Karoo and eats golden grass.\n"
FALCON = b"# Falcon facts\n\nThe falcon named Peregrine nests on the cathedral tower in Ghent.\n"
FALCON_Q = "Where does the falcon Peregrine nest?"


@pytest.fixture
def data_dir(tmp_path, embeddings):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zebra.md").write_bytes(ZEBRA)
    ingest([str(docs)], str(tmp_path / "data"), embeddings)  # the default workspace, by CLI
    return tmp_path / "data"


@asynccontextmanager
async def client(data_dir, monkeypatch=None):
    keys = f"alice:{ALICE},bob:{BOB},carol:{CAROL}"
    settings = ServerSettings.from_env({"ARAG_API_KEYS": keys, "ARAG_GRANTS": GRANTS})
    ctx = Context(data_dir=str(data_dir), model="offline", web_search="none")
    app = local_app(settings, ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            yield c


def auth(key: str, workspace: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    return headers | ({"X-Workspace": workspace} if workspace else {})


def chat(question: str, **extra) -> dict:
    return {"model": "adaptive-rag", "messages": [{"role": "user", "content": question}], **extra}


def sources(reply: httpx.Response) -> set[str]:
    assert reply.status_code == 200, reply.text
    return {c["source"] for c in reply.json()["citations"]}


def assert_error(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and error["message"] and "type" in error and "param" in error


async def upload(c, key, workspace, *files, urls=()):
    parts = [("file", (name, data, "text/markdown")) for name, data in files]
    return await c.post(
        f"/v1/workspaces/{workspace}/documents",
        headers=auth(key),
        files=parts or None,
        data={"url": list(urls)} if urls else None,
    )


async def test_a_key_reads_only_its_workspaces_documents(data_dir):
    async with client(data_dir) as c:
        added = await upload(c, BOB, "team-b", ("falcon.md", FALCON))
        assert added.status_code == 200, added.text
        (doc,) = added.json()["documents"]
        assert doc["status"] == "added" and doc["name"] == "falcon.md"
        assert added.json()["chunks"]["added"] == 1

        # bob's workspace answers from bob's document; the default one does not have it
        falcon = chat(FALCON_Q)
        assert sources(
            await c.post("/v1/chat/completions", json=falcon, headers=auth(BOB, "team-b"))
        ) == {"falcon.md"}
        assert "falcon.md" not in sources(
            await c.post("/v1/chat/completions", json=falcon, headers=auth(ALICE))
        )
        # metadata.workspace works like the header
        by_metadata = chat(FALCON_Q, metadata={"workspace": "team-b"})
        assert sources(
            await c.post("/v1/chat/completions", json=by_metadata, headers=auth(BOB))
        ) == {"falcon.md"}

        # another team's workspace is a 404, exactly like one that does not exist
        for key, workspace in ((ALICE, "team-b"), (CAROL, "team-b"), (ALICE, "nope")):
            reply = await c.post("/v1/chat/completions", json=falcon, headers=auth(key, workspace))
            assert_error(reply, 404, "workspace_not_found")
            assert (
                reply.json()["error"]["message"] == f"No workspace {workspace!r} for this API key."
            )
        # bob was not granted the default workspace
        assert_error(
            await c.post("/v1/chat/completions", json=falcon, headers=auth(BOB)),
            404,
            "workspace_not_found",
        )
        # the Responses API and its metadata.workspace
        body = {"model": "adaptive-rag", "input": FALCON_Q, "metadata": {"workspace": "team-b"}}
        assert_error(
            await c.post("/v1/responses", json=body, headers=auth(ALICE)),
            404,
            "workspace_not_found",
        )
        reply = await c.post("/v1/responses", json=body, headers=auth(BOB))
        assert reply.status_code == 200
        assert "falcon.md" in reply.json()["output"][0]["content"][0]["text"]
        # a malformed name is a 400 naming the field
        bad = await c.post("/v1/chat/completions", json=falcon, headers=auth(ALICE, "../data"))
        assert_error(bad, 400, "invalid_workspace")
        assert bad.json()["error"]["param"] == "workspace"

        # listing: bob sees his document, alice gets the 404
        listed = await c.get("/v1/workspaces/team-b/documents", headers=auth(BOB))
        assert [d["name"] for d in listed.json()["data"]] == ["falcon.md"]
        assert_error(
            await c.get("/v1/workspaces/team-b/documents", headers=auth(ALICE)),
            404,
            "workspace_not_found",
        )
        names = (await c.get("/v1/workspaces", headers=auth(ALICE))).json()["data"]
        assert [w["id"] for w in names] == ["default"]  # team-a does not exist yet; no team-b


async def test_writes_need_the_write_grant(data_dir):
    async with client(data_dir) as c:
        for key, workspace in ((CAROL, "default"), (ALICE, "default"), (ALICE, "team-b")):
            reply = await upload(c, key, workspace, ("falcon.md", FALCON))
            assert_error(reply, 403, "workspace_write_forbidden")
        assert not (data_dir / "workspaces" / "team-b").exists()  # nothing was created
        docs = (await c.get("/v1/workspaces/default/documents", headers=auth(ALICE))).json()
        (zebra,) = docs["data"]
        assert zebra["name"] == "zebra.md"
        reply = await c.delete(
            f"/v1/workspaces/default/documents/{zebra['id']}", headers=auth(ALICE)
        )
        assert_error(reply, 403, "workspace_write_forbidden")
        assert "zebra.md" in sources(
            await c.post(
                "/v1/chat/completions",
                json=chat("Where does the zebra Quagga live?"),
                headers=auth(ALICE),
            )
        )


async def test_ingestion_is_idempotent_and_a_delete_stops_citations(data_dir):
    async with client(data_dir) as c:
        first = await upload(c, ALICE, "team-a", ("falcon.md", FALCON))
        again = await upload(c, ALICE, "team-a", ("falcon.md", FALCON))
        assert again.status_code == 200
        assert again.json()["documents"][0]["status"] == "unchanged"
        assert again.json()["chunks"] | {"unchanged": 0} == {
            "added": 0,
            "updated": 0,
            "unchanged": 0,
            "deleted": 0,
            "total": 1,
        }
        listed = (await c.get("/v1/workspaces/team-a/documents", headers=auth(ALICE))).json()
        assert [(d["name"], d["chunks"]) for d in listed["data"]] == [("falcon.md", 1)]

        doc_id = first.json()["documents"][0]["id"]
        question = chat(FALCON_Q)
        cited = await c.post("/v1/chat/completions", json=question, headers=auth(ALICE, "team-a"))
        assert sources(cited) == {"falcon.md"}
        # the citation names the upload, never where the server keeps it
        assert [c["id"] for c in cited.json()["citations"]] == ["falcon.md#0"]
        assert_error(
            await c.delete("/v1/workspaces/team-a/documents/doc-unknown", headers=auth(ALICE)),
            404,
            "document_not_found",
        )
        gone = await c.delete(f"/v1/workspaces/team-a/documents/{doc_id}", headers=auth(ALICE))
        assert gone.status_code == 200 and gone.json()["name"] == "falcon.md"
        # the running service no longer cites it, and the upload is not kept
        assert "falcon.md" not in sources(
            await c.post("/v1/chat/completions", json=question, headers=auth(ALICE, "team-a"))
        )
        assert (await c.get("/v1/workspaces/team-a/documents", headers=auth(ALICE))).json()[
            "data"
        ] == []
        assert not any((data_dir / "workspaces" / "team-a" / "uploads").rglob("*.md"))


async def test_an_edited_file_uploaded_again_replaces_its_earlier_version(data_dir):
    edited = FALCON.replace(b"cathedral tower in Ghent", b"old lighthouse of Ostend")
    async with client(data_dir) as c:
        await upload(c, ALICE, "team-a", ("falcon.md", FALCON))
        second = await upload(c, ALICE, "team-a", ("falcon.md", edited))
        assert second.status_code == 200, second.text
        assert second.json()["documents"][0]["status"] == "updated"
        listed = (await c.get("/v1/workspaces/team-a/documents", headers=auth(ALICE))).json()
        assert [(d["name"], d["chunks"]) for d in listed["data"]] == [("falcon.md", 1)]
        reply = await c.post(
            "/v1/chat/completions", json=chat(FALCON_Q), headers=auth(ALICE, "team-a")
        )
        assert "Ostend" in reply.json()["choices"][0]["message"]["content"]
        assert "Ghent" not in reply.json()["choices"][0]["message"]["content"]
        # an upload that fails to load replaces nothing
        broken = await upload(c, ALICE, "team-a", ("falcon.md", b""))
        assert broken.json()["documents"][0]["status"] == "failed"
        listed = (await c.get("/v1/workspaces/team-a/documents", headers=auth(ALICE))).json()
        assert [(d["name"], d["chunks"]) for d in listed["data"]] == [("falcon.md", 1)]
    assert len(list((data_dir / "workspaces" / "team-a" / "uploads").rglob("falcon.md"))) == 1


async def test_bad_uploads_get_one_clear_error_and_change_nothing(data_dir, monkeypatch):
    async with client(data_dir) as c:
        reply = await upload(c, ALICE, "team-a", ("falcon.md", FALCON), ("report.exe", b"MZ"))
        assert_error(reply, 400, "unsupported_file_type")
        assert "report.exe" in reply.json()["error"]["message"]
        assert not (data_dir / "workspaces" / "team-a").exists()  # not even falcon.md

        reply = await upload(c, ALICE, "team-a", urls=["/etc/passwd"])
        assert_error(reply, 400, "invalid_url")

        # a URL the SSRF guard refuses is a per-file error; the other file is ingested
        reply = await upload(
            c, ALICE, "team-a", ("falcon.md", FALCON), urls=["http://127.0.0.1:9/secret.md"]
        )
        assert reply.status_code == 200, reply.text
        falcon, url = reply.json()["documents"]
        assert falcon["status"] == "added"
        assert url["status"] == "failed" and "refused" in url["error"]

        # an empty file fails to load: reported, and its upload removed
        reply = await upload(c, ALICE, "team-a", ("empty.md", b""))
        (empty,) = reply.json()["documents"]
        assert empty["status"] == "failed" and "empty" in empty["error"]
        uploads = data_dir / "workspaces" / "team-a" / "uploads"
        assert sorted(p.name for p in uploads.rglob("*.md")) == ["falcon.md"]

    monkeypatch.setenv("ARAG_MAX_FILE_MB", "0.1")  # the limit is read when the app is made
    async with client(data_dir) as c:
        big = b"# Big\n\n" + b"word " * 300_000  # 1.5 MB > 0.1 MB + 1 MB of form
        reply = await upload(c, ALICE, "team-a", ("big.md", big))
        assert_error(reply, 413, "too_large")
        docs = (await c.get("/v1/workspaces/team-a/documents", headers=auth(ALICE))).json()
        assert [d["name"] for d in docs["data"]] == ["falcon.md"]


async def test_a_thread_stays_in_its_workspace(data_dir):
    async with client(data_dir) as c:
        await upload(c, ALICE, "team-a", ("falcon.md", FALCON))
        first = await c.post(
            "/v1/chat/completions",
            json=chat("Where does the zebra Quagga live?"),
            headers=auth(ALICE) | {"X-Thread-Id": "t-1"},
        )
        assert first.status_code == 200
        # the same key, another workspace it may read: the thread is not there
        other = await c.post(
            "/v1/chat/completions",
            json=chat(FALCON_Q),
            headers=auth(ALICE, "team-a") | {"X-Thread-Id": "t-1"},
        )
        assert_error(other, 404, "not_found")
        assert_error(
            await c.get("/v1/threads/t-1", headers=auth(ALICE, "team-a")), 404, "not_found"
        )
        stored = await c.get("/v1/threads/t-1", headers=auth(ALICE))
        assert stored.status_code == 200 and len(stored.json()["messages"]) == 2


async def test_a_service_fed_only_over_the_api_becomes_ready(tmp_path):
    """No default index: not ready while nothing is indexed, ready once a workspace is fed."""
    async with client(tmp_path / "empty") as c:
        before = await c.get("/readyz")
        assert before.status_code == 503 and "No index" in before.text
        assert (await upload(c, ALICE, "team-a", ("falcon.md", FALCON))).status_code == 200
        after = await c.get("/readyz")
        assert after.status_code == 200, after.text
        assert sources(
            await c.post("/v1/chat/completions", json=chat(FALCON_Q), headers=auth(ALICE, "team-a"))
        ) == {"falcon.md"}


@contextmanager
def page_server(pages: dict[str, bytes]) -> Iterator[str]:
    """A loopback HTTP server answering ``pages`` (changeable while it runs); its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/markdown")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_each_document_of_an_upload_gets_its_own_status(data_dir, monkeypatch):
    monkeypatch.setenv("ARAG_ALLOW_PRIVATE_URLS", "1")  # the page server is on loopback
    pages = {"/owl.md": b"# Owl facts\n\nThe owl named Athena hunts over the dunes of Texel.\n"}
    with page_server(pages) as site:
        owl, gone = f"{site}/owl.md", f"{site}/gone.md"
        async with client(data_dir) as c:
            first = await upload(
                c, ALICE, "team-a", ("falcon.md", FALCON), ("empty.md", b""), urls=[owl, gone]
            )
            assert first.status_code == 200, first.text
            rows = [(d["name"], d["status"], d.get("chunks")) for d in first.json()["documents"]]
            assert rows == [
                ("falcon.md", "added", 1),
                ("empty.md", "failed", None),
                (owl, "added", 1),
                (gone, "failed", None),
            ]
            errors = [d.get("error", "") for d in first.json()["documents"]]
            assert "empty" in errors[1] and "404" in errors[3]

            pages["/owl.md"] = b"# Owl facts\n\nThe owl named Athena now hunts over Vlieland.\n"
            second = await upload(c, ALICE, "team-a", ("falcon.md", FALCON), urls=[owl])
            assert [(d["name"], d["status"]) for d in second.json()["documents"]] == [
                ("falcon.md", "unchanged"),
                (owl, "updated"),
            ]
            answer = await c.post(
                "/v1/chat/completions",
                json=chat("Where does the owl Athena hunt?"),
                headers=auth(ALICE, "team-a"),
            )
            assert "Vlieland" in answer.json()["choices"][0]["message"]["content"]


def events(reply: httpx.Response) -> list[tuple[str, dict]]:
    """The ``(event, data)`` pairs of a server-sent event stream."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    found = []
    for block in reply.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


async def test_an_upload_can_stream_its_progress(data_dir, monkeypatch):
    stream = {"Accept": "text/event-stream"}
    parts = [("file", ("falcon.md", FALCON, "text/markdown")), ("file", ("empty.md", b""))]
    async with client(data_dir) as c:
        reply = await c.post(
            "/v1/workspaces/team-a/documents", headers=auth(ALICE) | stream, files=parts
        )
        got = events(reply)
        assert [(kind, d.get("done"), d.get("name")) for kind, d in got] == [
            ("progress", 1, "falcon.md"),
            ("progress", 2, "empty.md"),
            ("result", None, None),
        ]
        assert {d["total"] for kind, d in got if kind == "progress"} == {2}
        result = got[-1][1]
        assert [(d["name"], d["status"]) for d in result["documents"]] == [
            ("falcon.md", "added"),
            ("empty.md", "failed"),
        ]
        # checked before the stream starts: a refused request keeps its status
        refused = await c.post(
            "/v1/workspaces/team-b/documents", headers=auth(ALICE) | stream, files=parts
        )
        assert_error(refused, 403, "workspace_write_forbidden")

        # an ingest that cannot start ends the stream with an error event
        monkeypatch.setattr(documents_api, "LOCK_WAIT", 0.0)
        with writer_lock(data_dir / "workspaces" / "team-a"):  # another writer holds it
            busy = await c.post(
                "/v1/workspaces/team-a/documents", headers=auth(ALICE) | stream, files=parts[:1]
            )
        ((kind, body),) = events(busy)
        assert kind == "error" and body["error"]["code"] == "ingest_busy"
