"""The real ``tavily.TavilyClient`` / ``AsyncTavilyClient`` against the local Tavily stand-in.

Covers what a user notices: the settings reach the wire, web answers cite URLs, every failure
mode degrades to a visible "web search unavailable" route, and the API key never leaks. The
last test runs against the real Tavily API only when ``TAVILY_API_KEY`` is set.
"""

from __future__ import annotations

import os
import time

import pytest
from langchain_core.messages import HumanMessage
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from graph.builder import build_graph
from graph.config import Context
from tests.fakes.node_chat_model import NodeScriptedChatModel
from tests.fakes.static_index import StaticIndex
from tests.fakes.tavily_server import FakeTavilyServer, TavilyReply
from tests.runs import invoke
from tools.web_search import (
    TavilyWebSearch,
    WebSearchError,
    WebSearchTool,
    load_web_search,
)

pytestmark = pytest.mark.integration

KEY = "tvly-test-SECRET-0123456789"
NOBEL = (
    "Nobel Prize in Physics 2023 - NobelPrize.org",
    "https://www.nobelprize.org/prizes/physics/2023/summary/",
    "The Nobel Prize in Physics 2023 was awarded to Pierre Agostini, Ferenc Krausz and "
    "Anne L'Huillier for experimental methods that generate attosecond pulses of light.",
)
WIKI = (
    "Attosecond physics - Wikipedia",
    "https://en.wikipedia.org/wiki/Attosecond_physics",
    "Attosecond physics studies light-matter interaction with attosecond photon pulses.",
)
QUESTION = "Who won the Nobel Prize in Physics in 2023?"
LIVE_KEY = os.environ.get("TAVILY_API_KEY")  # read before the autouse fixture clears it


@pytest.fixture
def tavily():
    with FakeTavilyServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_tavily_env(monkeypatch):
    for name in ("TAVILY_API_KEY", "TAVILY_API_BASE_URL", "ARAG_WEB_SEARCH"):
        monkeypatch.delenv(name, raising=False)


def backend(server: FakeTavilyServer, **kw) -> TavilyWebSearch:
    return TavilyWebSearch(api_key=KEY, api_base_url=server.url, **kw)


# --- the client on the wire ------------------------------------------------------------------


def test_settings_reach_the_wire_and_results_keep_urls(tavily):
    tavily.script(TavilyReply.results_of(NOBEL, WIKI))
    web = backend(
        tavily,
        search_depth="advanced",
        include_domains="nobelprize.org, wikipedia.org",
        exclude_domains=["example.com"],
        timeout=7,
    )
    results = web.search(QUESTION, max_results=2)
    assert [r.url for r in results] == [NOBEL[1], WIKI[1]]
    assert results[0].title == NOBEL[0] and "Agostini" in results[0].content
    sent = tavily.requests[0]
    assert sent.body["query"] == QUESTION
    assert sent.body["max_results"] == 2
    assert sent.body["search_depth"] == "advanced"
    assert sent.body["include_domains"] == ["nobelprize.org", "wikipedia.org"]
    assert sent.body["exclude_domains"] == ["example.com"]
    assert sent.headers["authorization"] == f"Bearer {KEY}"


async def test_async_client_searches_without_blocking(tavily):
    tavily.script(TavilyReply.results_of(NOBEL))
    results = await backend(tavily).asearch(QUESTION, max_results=3)
    assert [r.url for r in results] == [NOBEL[1]]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (TavilyReply.error(401), "Tavily rejected the API key (HTTP 401)"),
        (TavilyReply.error(429), "Tavily rate limit reached (HTTP 429)"),
        (TavilyReply.error(432), "plan or usage limit"),
        (TavilyReply.error(433), "plan or usage limit"),
        (TavilyReply.error(400), "Tavily rejected the request (HTTP 400)"),
        (TavilyReply.error(500), "Tavily server error (HTTP 500)"),
        (TavilyReply.malformed_body(), "Tavily sent a malformed response"),
    ],
)
def test_every_error_becomes_one_clean_message(tavily, reply, message):
    tavily.script(reply)
    with pytest.raises(WebSearchError) as err:
        backend(tavily).search(QUESTION)
    assert message in str(err.value)
    assert KEY not in str(err.value) and KEY not in repr(err.value)


async def test_async_errors_are_mapped_too(tavily):
    tavily.script(TavilyReply.error(432))
    with pytest.raises(WebSearchError, match="plan or usage limit"):
        await backend(tavily).asearch(QUESTION)


def test_slow_server_times_out_at_the_configured_timeout(tavily):
    tavily.script(TavilyReply.slow(3))
    started = time.perf_counter()
    with pytest.raises(WebSearchError, match="did not answer within 0.5 s"):
        backend(tavily, timeout=0.5).search(QUESTION)
    assert time.perf_counter() - started < 2.5


def test_unreachable_server_is_reported_without_the_key():
    web = TavilyWebSearch(api_key=KEY, api_base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(WebSearchError, match="cannot reach Tavily") as err:
        web.search(QUESTION)
    assert KEY not in str(err.value)
    assert KEY not in repr(web)


def test_no_key_means_not_configured_not_keyless(monkeypatch):
    web = load_web_search("tavily")
    assert web.available is False and web.unavailable_reason == "TAVILY_API_KEY is not set"
    with pytest.raises(ValueError, match="supported: none, tavily"):
        load_web_search("bing")
    with pytest.raises(ValueError, match="search depth must be one of"):
        TavilyWebSearch(api_key=KEY, search_depth="deep")


def test_web_search_defaults_to_tavily_when_its_key_is_set(monkeypatch):
    assert Context().web_search == "none"
    monkeypatch.setenv("TAVILY_API_KEY", KEY)
    assert Context().web_search == "tavily"
    monkeypatch.setenv("ARAG_WEB_SEARCH", "none")
    assert Context().web_search == "none"  # an explicit setting wins over the key's presence


# --- the graph's web route -------------------------------------------------------------------


def weak_index() -> StaticIndex:
    """A corpus that does not cover the question (probe well under probe_weak)."""
    return StaticIndex(default=[("noise#0", "Bananas are rich in potassium.", 0.1)])


def ask(web, *, model=None, ctx=None, embeddings=None):
    graph = build_graph(
        chat_model=model, index=weak_index(), embeddings=embeddings, web_search_backend=web
    )
    return invoke(graph, {"messages": [HumanMessage(QUESTION)]}, context=ctx or Context())


def test_out_of_corpus_question_is_answered_from_the_web_with_url_citations(tavily, embeddings):
    tavily.script(TavilyReply.results_of(NOBEL, WIKI))
    result = ask(backend(tavily), embeddings=embeddings, ctx=Context(web_max_results=3))
    assert result["route"] == "web"
    confidence = next(s for s in result["path"] if s["node"] == "check_confidence")
    assert confidence["decision"] == "web"  # the confidence check sent it to the web
    assert result["citations"][0]["source"] == NOBEL[1]
    assert "Agostini" in result["answer"]
    assert f"[1] {NOBEL[0]} — {NOBEL[1]}" in result["messages"][-1].content
    assert tavily.requests[0].body["max_results"] == 3


def test_web_failure_is_a_visible_route_not_a_crash(tavily, embeddings):
    tavily.script(TavilyReply.error(429))
    result = ask(backend(tavily), embeddings=embeddings)
    assert result["route"] == "insufficient"
    assert "web_search_unavailable" in result["flags"]
    web_step = next(s for s in result["path"] if s["node"] == "web_search")
    assert web_step["decision"] == "unavailable"
    assert "rate limit" in web_step["reason"]
    text = result["messages"][-1].content
    assert "Note: web search unavailable: Tavily rate limit reached (HTTP 429)" in text
    assert KEY not in text


def test_corpus_without_relevant_documents_falls_back_to_the_web_after_rewrites(tavily, embeddings):
    """The second route: strong-looking corpus hits that the grader rejects every time."""
    tavily.script(TavilyReply.results_of(NOBEL))
    index = StaticIndex(default=[("physics#0", "Physics is a natural science.", 0.9)])
    model = NodeScriptedChatModel(
        replies={
            "grade_documents": [{"relevant": [], "reason": "not about 2023"}],
            "rewrite_query": [{"queries": ["physics nobel 2023 laureates"]}],
            "generate_answer": ["Agostini, Krausz and L'Huillier won it [1]."],
            "check_answer": [{"grounded": True, "useful": True, "unsupported": [], "reason": "ok"}],
        }
    )
    graph = build_graph(
        chat_model=model, index=index, embeddings=embeddings, web_search_backend=backend(tavily)
    )
    result = invoke(graph, {"messages": [HumanMessage(QUESTION)]}, context=Context(max_rewrites=1))
    nodes = [s["node"] for s in result["path"]]
    assert nodes.index("web_search") > nodes.index("rewrite_query")
    assert result["route"] == "web"
    assert result["citations"] == [{"n": 1, "id": NOBEL[1], "title": NOBEL[0], "source": NOBEL[1]}]
    assert tavily.requests[0].body["query"] == QUESTION


def test_web_search_configured_from_context_and_environment(tavily, embeddings, monkeypatch):
    """No injected backend: ARAG_* settings and TAVILY_* environment select the real client."""
    monkeypatch.setenv("TAVILY_API_KEY", KEY)
    monkeypatch.setenv("TAVILY_API_BASE_URL", tavily.url)
    tavily.script(TavilyReply.results_of(NOBEL))
    ctx = Context(web_include_domains="nobelprize.org", web_search_depth="advanced")
    assert ctx.web_search == "tavily"
    result = ask(None, embeddings=embeddings, ctx=ctx)
    assert result["route"] == "web"
    assert tavily.requests[0].body["include_domains"] == ["nobelprize.org"]
    assert tavily.requests[0].body["search_depth"] == "advanced"


# --- LangChain standard tests for the tool ---------------------------------------------------

_SERVER: FakeTavilyServer | None = None


def _standard_server() -> FakeTavilyServer:
    """One stand-in for the standard suites (their fixtures are plain properties)."""
    global _SERVER
    if _SERVER is None:
        _SERVER = FakeTavilyServer(default=TavilyReply.results_of(NOBEL)).__enter__()
    return _SERVER


def teardown_module() -> None:
    if _SERVER is not None:
        _SERVER.__exit__(None, None, None)


class TestWebSearchToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self):
        return WebSearchTool

    @property
    def tool_constructor_params(self) -> dict:
        return {"backend": TavilyWebSearch(api_key=KEY, api_base_url=_standard_server().url)}

    @property
    def tool_invoke_params_example(self) -> dict:
        return {"query": QUESTION}


class TestWebSearchToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self):
        return WebSearchTool

    @property
    def tool_constructor_params(self) -> dict:
        return {"backend": TavilyWebSearch(api_key=KEY, api_base_url=_standard_server().url)}

    @property
    def tool_invoke_params_example(self) -> dict:
        return {"query": QUESTION}


def test_tool_returns_urls_for_citation(tavily):
    tavily.script(TavilyReply.results_of(NOBEL, WIKI))
    tool = WebSearchTool(backend=backend(tavily), max_results=2)
    out = tool.invoke({"query": QUESTION})
    assert NOBEL[1] in out and WIKI[1] in out


# --- live contract (skipped here) ------------------------------------------------------------


@pytest.mark.live
def test_live_tavily_returns_cited_results():
    if not LIVE_KEY:
        print("skip reason: set TAVILY_API_KEY to run against the real Tavily API")
        pytest.skip("TAVILY_API_KEY is not set: the real Tavily API is not configured")
    results = TavilyWebSearch(api_key=LIVE_KEY).search(QUESTION, max_results=3)
    assert results and all(r.url.startswith("http") for r in results)
