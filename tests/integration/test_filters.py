"""Document filters end to end: metadata recorded at ingest (path, tags, type, time), applied
by the real LanceDB index, passed from ``/v1``, the CLI and MCP through the graph, and
recorded in the path.
"""  # noqa: D205

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from arag.server.app import local_app
from arag.server.settings import ServerSettings
from graph.config import Context
from tests.serving import ROOT, server_env
from tools.index.filters import DocFilter, FilterError
from tools.index.lance import LanceIndex
from tools.index.search import search
from tools.ingest.pipeline import ingest

pytestmark = pytest.mark.integration

HOLIDAY = "How many holiday days do employees get?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embeddings):
    """Three handbook pages: two tagged hr (one under policies/, one a text file), one it."""
    root = tmp_path_factory.mktemp("filters")
    docs = root / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "leave.md").write_text(
        "# Leave policy\n\nEmployees get 30 holiday days per year, booked in the HR portal.\n"
    )
    (docs / "benefits.txt").write_text(
        "Benefits: employees get 25 holiday days in their first year and a bike allowance.\n"
    )
    (docs / "laptops.md").write_text(
        "# Laptops\n\nEmployees get a new laptop every three years; holiday days do not count.\n"
    )
    data = root / "data"
    for paths, tags in (
        ([docs / "policies", docs / "benefits.txt"], ["hr"]),
        ([docs / "laptops.md"], ["it"]),
    ):
        report = ingest([str(p) for p in paths], str(data), embeddings, tags=tags)
        assert not report.files_failed
    return data


def names(docs) -> set[str]:
    return {d["display"] for d in docs}


def test_the_index_searches_only_matching_documents(data_dir, embeddings):
    index = LanceIndex.open(data_dir, embeddings)
    everything = names(search(index, HOLIDAY, 5))
    assert everything == {"leave.md", "benefits.txt", "laptops.md"}
    hr = names(search(index, HOLIDAY, 5, filters=DocFilter.parse({"tags": ["hr"]})))
    assert hr == {"leave.md", "benefits.txt"}
    it = names(search(index, HOLIDAY, 5, filters=DocFilter.parse({"tags": "it"})))
    assert it == {"laptops.md"}
    md = names(search(index, HOLIDAY, 5, filters=DocFilter.parse({"file_types": ["md"]})))
    assert md == {"leave.md", "laptops.md"}
    both = DocFilter.parse({"tags": ["hr"], "file_types": [".MD"]})
    assert names(search(index, HOLIDAY, 5, filters=both)) == {"leave.md"}
    # display paths are relative to the folder ingested, so a prefix of that path
    prefix = DocFilter.parse({"source_prefix": "leave"})
    assert names(search(index, HOLIDAY, 5, filters=prefix)) == {"leave.md"}
    later = datetime.now(UTC) + timedelta(days=1)
    future = DocFilter.parse({"ingested_after": later.isoformat()})
    assert search(index, HOLIDAY, 5, filters=future) == []
    past = DocFilter.parse({"ingested_before": later.date().isoformat()})
    assert len(search(index, HOLIDAY, 5, filters=past)) == 3
    # hostile values are data: quoted into the SQL, never part of it
    for value in ("x') OR 1=1 --", "' OR ''='"):
        assert search(index, HOLIDAY, 5, filters=DocFilter.parse({"source_prefix": value})) == []
    index.close()


def test_a_table_made_before_filters_can_filter_after_its_next_ingest(
    tmp_path, embeddings, monkeypatch
):
    import lancedb

    from tools.index.lance import DB_DIR, FILTER_COLUMNS, TABLE, IndexFiltersUnsupportedError
    from tools.ingest import pipeline

    docs = tmp_path / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "leave.md").write_text("# Leave\n\nEmployees get 30 holiday days.\n")
    (docs / "laptops.md").write_text("# Laptops\n\nA new laptop every three years.\n")
    data = tmp_path / "data"
    with monkeypatch.context() as old:  # chunks as ingest wrote them before filters existed
        old.setattr(pipeline, "display_for", lambda path, roots: None)
        old.setattr(pipeline, "_file_type", lambda path, loaded: None)
        ingest([str(docs)], str(data), embeddings)
    lancedb.connect(str(data / DB_DIR)).open_table(TABLE).drop_columns(list(FILTER_COLUMNS))

    server = LanceIndex.open(data, embeddings)  # a running server's handle
    policies = DocFilter.parse({"source_prefix": "policies/"})
    with pytest.raises(IndexFiltersUnsupportedError, match="Run `arag ingest` on its documents"):
        search(server, HOLIDAY, 3, filters=policies)

    again = ingest([str(docs)], str(data), embeddings)  # the same files, unchanged
    assert (again.num_added, again.num_deleted, again.chunks_total) == (2, 2, 2)
    assert names(search(server, HOLIDAY, 3, filters=policies)) == {"policies/leave.md"}
    md = DocFilter.parse({"file_types": ["md"]})
    assert names(search(server, HOLIDAY, 3, filters=md)) == {"policies/leave.md", "laptops.md"}
    # once indexed with their metadata, the files are skipped as unchanged again
    assert ingest([str(docs)], str(data), embeddings).num_added == 0
    server.close()


def test_a_filter_is_validated_field_by_field():
    with pytest.raises(FilterError, match="Unknown filter 'tag'"):
        DocFilter.parse({"tag": "hr"})
    with pytest.raises(FilterError, match='Tag "x\'" is invalid'):
        DocFilter.parse({"tags": ["x'"]})
    with pytest.raises(FilterError, match="ingested_after must be an ISO-8601"):
        DocFilter.parse({"ingested_after": "yesterday"})
    with pytest.raises(FilterError, match="File type 'p-d-f' is invalid"):
        DocFilter.parse({"file_types": ["p-d-f"]})
    sql = DocFilter.parse({"source_prefix": "a'b", "tags": ["hr"]}).to_sql()
    assert sql == "starts_with(display, 'a''b') AND (strpos(tags, '|hr|') > 0)"


@asynccontextmanager
async def client(data_dir):
    ctx = Context(data_dir=str(data_dir), model="offline", web_search="none")
    app = local_app(ServerSettings(), ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            yield c


async def test_v1_filters_reach_the_search_and_the_path(data_dir):
    async with client(data_dir) as c:
        body = {
            "model": "adaptive-rag",
            "messages": [{"role": "user", "content": HOLIDAY}],
            "filters": {"tags": ["it"]},
        }
        reply = await c.post("/v1/chat/completions", json=body)
        assert reply.status_code == 200, reply.text
        assert {x["source"] for x in reply.json()["citations"]} <= {"laptops.md"}
        reasons = " | ".join(s["reason"] for s in reply.json()["path"])
        assert "filters tags=it" in reasons

        bad = await c.post("/v1/chat/completions", json=body | {"filters": {"tags": ["a b"]}})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_filters"
        assert bad.json()["error"]["param"] == "filters"

        responses = {"model": "adaptive-rag", "input": HOLIDAY, "filters": {"file_types": ["txt"]}}
        reply = await c.post("/v1/responses", json=responses)
        assert reply.status_code == 200, reply.text
        assert "benefits.txt" in reply.json()["output"][0]["content"][0]["text"]
        assert "leave.md" not in reply.json()["output"][0]["content"][0]["text"]


async def test_tags_sent_with_an_upload_are_filterable(tmp_path):
    async with client(tmp_path / "data") as c:
        for name, tag in (("a.md", "red"), ("b.md", "blue")):
            text = f"# {name}\n\nThe colour code of project Orion is listed here for {tag}.\n"
            reply = await c.post(
                "/v1/workspaces/default/documents",
                files=[("file", (name, text.encode(), "text/markdown"))],
                data={"tag": tag},
            )
            assert reply.status_code == 200, reply.text
        bad = await c.post(
            "/v1/workspaces/default/documents",
            files=[("file", ("c.md", b"# c\n\ntext\n", "text/markdown"))],
            data={"tag": "no spaces"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_tag"
        body = {
            "model": "adaptive-rag",
            "messages": [{"role": "user", "content": "What is the colour code of project Orion?"}],
            "filters": {"tags": ["blue"]},
        }
        reply = await c.post("/v1/chat/completions", json=body)
        assert {x["source"] for x in reply.json()["citations"]} == {"b.md"}


def test_cli_tags_at_ingest_and_filters_at_ask(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nEmployees get 30 holiday days per year.\n")
    (docs / "old.md").write_text("# Old leave\n\nEmployees got 20 holiday days per year.\n")
    data = tmp_path / "data"

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "arag", *args, "--data-dir", str(data)],
            cwd=ROOT,
            env=server_env(data),
            capture_output=True,
            text=True,
            timeout=180,
        )

    assert run("ingest", str(docs / "leave.md"), "--tag", "current").returncode == 0
    assert run("ingest", str(docs / "old.md"), "--tag", "archive").returncode == 0
    asked = run("ask", HOLIDAY, "--json", "--tag", "archive")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert [c["source"] for c in answer["citations"]] == ["old.md"]
    assert any("filters tags=archive" in s["reason"] for s in answer["path"])
    bad = run("ask", HOLIDAY, "--tag", "not valid")
    assert bad.returncode == 2 and "Tag 'not valid' is invalid" in bad.stderr
    bad_ingest = run("ingest", str(docs), "--tag", "x|y")
    assert bad_ingest.returncode == 2 and "Tag 'x|y' is invalid" in bad_ingest.stderr
