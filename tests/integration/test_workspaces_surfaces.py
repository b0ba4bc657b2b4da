"""Workspaces and per-key access on every surface that runs a real process: the CLI, the
LangGraph API (``langgraph dev`` with ``langgraph.json``'s auth, and ``/v1`` mounted there),
and MCP (``/mcp`` on ``arag serve``, and ``arag mcp`` over stdio).

The default workspace holds ``zebra.md``, workspace ``team-b`` holds ``falcon.md``. alice may
read the default workspace only (no grant: what every key had before workspaces); bob reads
team-b, and reads and writes team-c, which the ingestion API creates.
"""  # noqa: D205

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.integration.test_mcp import arag_command, http_session
from tests.integration.test_workspaces_api import assert_error, events
from tests.serving import ROOT, arag_serve, langgraph_dev, server_env

pytestmark = pytest.mark.integration

ALICE, BOB = "alice-key-0123456789abcdef", "bob-key-0123456789abcdef00"
KEYS = {
    "ARAG_API_KEYS": f"alice:{ALICE},bob:{BOB}",
    "ARAG_GRANTS": "bob read=team-b,team-c write=team-c",
}
FALCON_Q = "Where does the falcon Peregrine nest?"
PIGEON = b"# Pigeon facts\n\nThe pigeon named Columba roosts under the Luiz bridge in Porto.\n"
PIGEON_Q = "Where does the pigeon Columba roost?"


def cli(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arag", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=server_env(data_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Two workspaces ingested with ``arag ingest`` and ``arag ingest --workspace team-b``."""
    root = tmp_path_factory.mktemp("workspaces")
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "zebra.md").write_text("# Zebra facts\n\nThe zebra Quagga lives in the Karoo.\n")
    (root / "b" / "falcon.md").write_text(
        "# Falcon facts\n\nThe falcon named Peregrine nests on the cathedral tower in Ghent.\n"
    )
    data = root / "data"
    assert cli(data, "ingest", str(root / "a")).returncode == 0
    done = cli(data, "ingest", str(root / "b"), "--workspace", "team-b")
    assert done.returncode == 0, done.stderr
    assert "1 file ok; chunks: 1 added" in done.stdout
    return data


def test_cli_ask_answers_from_the_named_workspace_only(data_dir):
    asked = cli(data_dir, "ask", FALCON_Q, "--json", "--workspace", "team-b")
    assert asked.returncode == 0, asked.stderr
    assert [c["source"] for c in json.loads(asked.stdout)["citations"]] == ["falcon.md"]
    default = json.loads(cli(data_dir, "ask", FALCON_Q, "--json").stdout)
    assert "falcon.md" not in {c["source"] for c in default["citations"]}

    missing = cli(data_dir, "ask", FALCON_Q, "--workspace", "team-z")
    assert missing.returncode == 2
    assert "no workspace 'team-z'" in missing.stderr
    assert "arag ingest --workspace team-z PATH" in missing.stderr
    bad = cli(data_dir, "ingest", str(data_dir), "--workspace", "../escape")
    assert bad.returncode == 2 and "Workspace name '../escape' is invalid" in bad.stderr
    assert not (data_dir.parent / "escape").exists()


@pytest.fixture(scope="module")
def dev_server(data_dir, tmp_path_factory):
    with langgraph_dev(data_dir, tmp_path_factory.mktemp("lg-ws"), **KEYS) as server:
        yield server.url


def sdk(url: str, key: str):
    from langgraph_sdk import get_client

    return get_client(url=url, api_key=None, headers={"Authorization": f"Bearer {key}"})


async def test_langgraph_runs_read_only_a_granted_workspace(dev_server):
    alice, bob = sdk(dev_server, ALICE), sdk(dev_server, BOB)
    # langgraph dev keeps assistants other tests made (.langgraph_api): any of them will do
    assistant = (await alice.assistants.search(graph_id="adaptive_rag"))[0]
    schema = (await alice.assistants.get_schemas(assistant["assistant_id"]))["context_schema"]
    assert "Workspace to search" in schema["properties"]["workspace"]["description"]  # Studio
    question = {"messages": [{"role": "user", "content": FALCON_Q}]}

    thread = await bob.threads.create()
    result = await bob.runs.wait(
        thread["thread_id"], "adaptive_rag", input=question, context={"workspace": "team-b"}
    )
    assert [c["source"] for c in result["citations"]] == ["falcon.md"]

    for client, context in (
        (alice, {"workspace": "team-b"}),  # not granted
        (alice, {"workspace": "team-z"}),  # does not exist: the same answer
        (bob, {}),  # no workspace named: the default, which bob may not read
    ):
        own = await client.threads.create()
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await client.runs.wait(
                own["thread_id"], "adaptive_rag", input=question, context=context
            )
        assert refused.value.response.status_code == 404
        assert "No workspace" in refused.value.response.text
    # configurable is checked like context
    own = await alice.threads.create()
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await alice.runs.wait(
            own["thread_id"],
            "adaptive_rag",
            input=question,
            config={"configurable": {"workspace": "team-b"}},
        )
    assert refused.value.response.status_code == 404
    # an assistant cannot carry a workspace its creator may not read
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await alice.assistants.create(graph_id="adaptive_rag", context={"workspace": "team-b"})
    assert refused.value.response.status_code == 404


async def test_v1_under_langgraph_checks_the_workspace(dev_server):
    body = {"model": "adaptive-rag", "messages": [{"role": "user", "content": FALCON_Q}]}
    async with httpx.AsyncClient(base_url=dev_server, timeout=120) as http:
        ok = await http.post(
            "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {BOB}", "X-Workspace": "team-b"},
        )
        assert ok.status_code == 200, ok.text
        assert [c["source"] for c in ok.json()["citations"]] == ["falcon.md"]
        refused = await http.post(
            "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {ALICE}", "X-Workspace": "team-b"},
        )
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "workspace_not_found"


async def test_ingestion_api_under_langgraph_feeds_its_runs(dev_server, data_dir):
    """The /v1 documents routes on the LangGraph API host: grants, bad input, then a run of
    the LangGraph server's own graph cites the upload until it is deleted.
    """  # noqa: D205
    bob = sdk(dev_server, BOB)
    question = {"messages": [{"role": "user", "content": PIGEON_Q}]}

    async def cited() -> list[str]:
        thread = await bob.threads.create()
        result = await bob.runs.wait(
            thread["thread_id"], "adaptive_rag", input=question, context={"workspace": "team-c"}
        )
        return [c["source"] for c in result["citations"]]

    def pigeon(name: str = "pigeon.md", data: bytes = PIGEON) -> tuple:
        return ("file", (name, data, "text/markdown"))

    docs = "/v1/workspaces/team-c/documents"
    async with httpx.AsyncClient(base_url=dev_server, timeout=120) as http:
        as_bob, as_alice = {"Authorization": f"Bearer {BOB}"}, {"Authorization": f"Bearer {ALICE}"}
        refused = await http.post(docs, headers=as_alice, files=[pigeon()])
        assert_error(refused, 403, "workspace_write_forbidden")
        refused = await http.post(
            "/v1/workspaces/team-b/documents", headers=as_bob, files=[pigeon()]
        )  # bob reads team-b but may not write it
        assert_error(refused, 403, "workspace_write_forbidden")
        assert_error(await http.get(docs, headers=as_bob), 404, "workspace_not_found")  # not yet
        bad = await http.post(docs, headers=as_bob, files=[pigeon(), pigeon("run.exe", b"MZ")])
        assert_error(bad, 400, "unsupported_file_type")
        assert "run.exe" in bad.json()["error"]["message"]
        assert not (data_dir / "workspaces" / "team-c").exists()  # not even pigeon.md

        added = await http.post(docs, headers=as_bob, files=[pigeon()])
        assert added.status_code == 200, added.text
        ((name, status, doc_id),) = [
            (d["name"], d["status"], d["id"]) for d in added.json()["documents"]
        ]
        assert (name, status) == ("pigeon.md", "added")
        streamed = as_bob | {"Accept": "text/event-stream"}  # progress events, then the result
        again = events(await http.post(docs, headers=streamed, files=[pigeon()]))
        assert [kind for kind, _ in again] == ["progress", "result"]
        assert [d["status"] for d in again[-1][1]["documents"]] == ["unchanged"]
        listed = (await http.get(docs, headers=as_bob)).json()["data"]
        assert [(d["name"], d["chunks"]) for d in listed] == [("pigeon.md", 1)]
        assert_error(await http.get(docs, headers=as_alice), 404, "workspace_not_found")

        assert await cited() == ["pigeon.md"]  # the running server searches the new document

        assert_error(
            await http.delete(f"{docs}/{doc_id}", headers=as_alice),
            403,
            "workspace_write_forbidden",
        )
        assert_error(
            await http.delete(f"{docs}/doc-unknown", headers=as_bob), 404, "document_not_found"
        )
        gone = await http.delete(f"{docs}/{doc_id}", headers=as_bob)
        assert gone.status_code == 200 and gone.json()["name"] == "pigeon.md"
        assert (await http.get(docs, headers=as_bob)).json()["data"] == []
    assert "pigeon.md" not in await cited()


async def test_mcp_tools_search_and_ask_only_a_granted_workspace(data_dir, tmp_path):
    with arag_serve(data_dir, tmp_path, **KEYS) as server:
        async with http_session(server.url, {"Authorization": f"Bearer {BOB}"}) as session:
            found = await session.call_tool("search", {"query": FALCON_Q, "workspace": "team-b"})
            assert not found.is_error
            assert [h["source"] for h in found.structured_content["hits"]] == ["falcon.md"]
            answer = await session.call_tool("ask", {"question": FALCON_Q, "workspace": "team-b"})
            assert [c["source"] for c in answer.structured_content["citations"]] == ["falcon.md"]
            denied = await session.call_tool("search", {"query": FALCON_Q})  # the default
            assert denied.is_error and "No workspace 'default'" in denied.content[0].text
        async with http_session(server.url, {"Authorization": f"Bearer {ALICE}"}) as session:
            for tool, args in (("search", {"query": FALCON_Q}), ("ask", {"question": FALCON_Q})):
                denied = await session.call_tool(tool, args | {"workspace": "team-b"})
                assert denied.is_error
                assert denied.content[0].text.endswith("No workspace 'team-b' for this API key.")
            own = await session.call_tool("search", {"query": "zebra Quagga"})
            assert [h["source"] for h in own.structured_content["hits"]] == ["zebra.md"]


async def test_mcp_over_stdio_reads_any_workspace_of_its_user(data_dir):
    params = StdioServerParameters(
        command=arag_command(), args=["mcp"], env=server_env(data_dir), cwd=str(ROOT)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        found = await session.call_tool("search", {"query": FALCON_Q, "workspace": "team-b"})
        assert [h["source"] for h in found.structured_content["hits"]] == ["falcon.md"]
        missing = await session.call_tool("search", {"query": FALCON_Q, "workspace": "team-z"})
        assert missing.is_error and "No workspace 'team-z'" in missing.content[0].text
