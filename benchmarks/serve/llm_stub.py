"""A deterministic OpenAI chat-completions stand-in that answers many requests at once.

``make bench-serve`` points ``arag serve`` (``ARAG_MODEL=openai:stub``, ``ARAG_BASE_URL``) at it
to measure a service whose requests wait on an LLM. Unlike ``tests/fakes/openai_server.py``
(an ordered script queue, so concurrent requests would take each other's replies), every reply
is derived from its own request:

* a request that forces a tool (``tool_choice`` names a function, as ``tools.llm.structured``
  does) gets one call of that tool, with arguments built from the tool's JSON schema: a
  field's default if it has one (an optional list without one: empty), else ``true`` for
  booleans, the minimum (or 0) for numbers, 1 for integers, one item for arrays, the
  question's text for strings naming a query, a short stub text for other strings. So
  ``DocumentGrades`` says document 1 is relevant, ``AnswerCheck`` grounded and useful,
  ``QueryRewrites`` one query, ``ClosedBookAnswer`` confidence 0;
* a translation or condensation prompt (system prompt starting "Translate" or "Rewrite") gets
  the question back unchanged;
* anything else gets a short answer citing document ``[1]``, with per-token logprobs of
  :data:`LOW_LOGPROB` when asked for them: a closed-book probe is "not confident", so the graph
  retrieves.

Each call sleeps :class:`benchmarks.graph.counting_model.Latency` (``asyncio.sleep``: the
server holds no thread per waiting call) and is counted; ``GET /stats`` reports calls, calls
by kind, tokens and the peak number of calls in flight, ``POST /stats/reset`` reports and
zeroes them. A ``stream: true`` request gets its reply as server-sent chunks, one token per
``--token-ms`` after the call's base latency; ``/stats`` then also reports when each streamed
answer's first sentence was complete (``first_sentence_s``, from the request's arrival).

Two switches make the answers document-shaped, for ``make bench-stream``:

* ``--quote``: an answer quotes the ``--sentences`` (2) sentences of document 1 of its prompt
  that share most words with the question, the best first, each cited ``[1]``, so it is
  grounded;
* ``--wrong-first-draft opening|middle`` (with ``--quote``): a first draft (one written without
  the answer prompt's "previous draft was rejected" note) holds a wrong claim
  (:data:`WRONG_CLAIM`) before or after its first sentence, and ``AnswerCheck`` judges any
  answer holding it not grounded.

    python -m benchmarks.serve.llm_stub --port 8765 [--base-ms 300] [--per-100-tokens-ms 5]
        [--token-ms 80] [--quote] [--sentences 2] [--wrong-first-draft opening|middle]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.graph.counting_model import Latency, estimate_tokens
from tools.index.scoring import term_set

MODEL_ID = "stub"
LOW_LOGPROB = -2.5
"""Per-token logprob of text replies: exp(-2.5) ≈ 0.08, well below ``confidence_low``."""
ANSWER = "According to the documents, the answer is stated in document 1 [1]."
WRONG_CLAIM = "The documents date this to 1950 [1]."
"""The wrong claim a rejected first draft opens with (no document says 1950)."""
_DOCUMENT_1 = re.compile(r'<document n="1"[^>]*>\s*(.*?)\s*</document>', re.DOTALL)
_ANSWER_BLOCK = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_QUESTION = re.compile(r"<question>\s*(.*?)\s*</question>", re.DOTALL)
_ECHO_PROMPTS = ("translate", "rewrite")


@dataclass(frozen=True)
class Behaviour:
    """How the stub answers beyond latency (see the module docstring)."""

    token_ms: float = 0.0
    """Per streamed token, after the base latency."""
    quote: bool = False
    """Answers quote document 1 of their prompt."""
    wrong_first_draft: str = ""
    """Where a first draft holds :data:`WRONG_CLAIM`: ``opening``, ``middle`` or nowhere."""
    sentences: int = 2
    """Sentences a quoting answer has (fewer when document 1 has fewer)."""


def _quoted_answer(body: dict[str, Any], behaviour: Behaviour) -> str:
    """Document 1's two sentences nearest the question, cited; a first draft may be wrong."""
    prompt = _text(([m for m in body.get("messages") or [] if m.get("role") == "user"] or [{}])[-1]
                   .get("content"))  # fmt: skip
    found = _DOCUMENT_1.search(prompt)
    if not found:
        return ANSWER
    # As a model answers: the sentence that shares most content terms with the question first,
    # then the next best (ties in document order).
    words = term_set(question_of(body))  # stemmed content terms: "die" matches "died"
    found_sentences = [s for s in _SENTENCE.split(" ".join(found.group(1).split())) if s]
    ranked = sorted(
        enumerate(found_sentences),
        key=lambda item: (-len(words & term_set(item[1])), item[0]),
    )
    sentences = [s for _, s in ranked[: behaviour.sentences]]
    cited = [s[:-1] + " [1]" + s[-1] if s[-1] in ".!?" else s + " [1]" for s in sentences]
    if "previous draft was rejected" not in _system_prompt(body):  # a first draft
        if behaviour.wrong_first_draft == "opening":
            cited.insert(0, WRONG_CLAIM)
        elif behaviour.wrong_first_draft == "middle":
            cited.insert(1, WRONG_CLAIM)
    return " ".join(cited)


@dataclass
class Stats:
    """What the stub has served since the last reset."""

    calls: int = 0
    by_kind: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    first_sentence_s: list[float] = field(default_factory=list)

    def reset(self) -> None:
        """Zero the figures; calls still in flight stay counted as in flight."""
        in_flight = self.in_flight
        self.__dict__.update(Stats(in_flight=in_flight, peak_in_flight=in_flight).__dict__)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "calls": self.calls,
            "by_kind": dict(self.by_kind),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "first_sentence_s": list(self.first_sentence_s),
        }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def question_of(body: dict[str, Any]) -> str:
    """The question in the last user message: inside ``<question>`` tags if there are any."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    text = _text(users[-1].get("content")) if users else ""
    found = _QUESTION.search(text)
    return (found.group(1) if found else text).strip()


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The ``function`` entry of the tool that ``tool_choice`` forces, or None."""
    choice = body.get("tool_choice")
    tools = [t.get("function") or {} for t in body.get("tools") or []]
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return next((t for t in tools if t.get("name") == name), None)
    if choice == "required" and tools:
        return tools[0]
    return None


def value_for(name: str, schema: dict[str, Any], question: str, defs: dict[str, Any]) -> Any:
    """A valid, deterministic value for one JSON-schema property (see the module docstring)."""
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key) or [] if s.get("type") != "null"]
        if options:
            return value_for(name, options[0], question, defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 0.0)
    if kind == "array":
        return [value_for(name, schema.get("items") or {}, question, defs)]
    if kind == "object":
        return arguments_for(schema, question, defs)
    if "quer" in name.lower() or "question" in name.lower():
        return question or "stub query"
    return f"stub {name}"


def arguments_for(
    schema: dict[str, Any], question: str, defs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Arguments for a tool whose parameters are ``schema``: every property, required or not."""
    defs = {**(defs or {}), **(schema.get("$defs") or {})}
    required = set(schema.get("required") or [])
    out = {}
    for name, prop in (schema.get("properties") or {}).items():
        if name not in required and prop.get("type") == "array" and "default" not in prop:
            out[name] = []  # an optional list (AnswerCheck.unsupported) is left empty
        else:
            out[name] = value_for(name, prop, question, defs)
    return out


def _system_prompt(body: dict[str, Any]) -> str:
    systems = [m for m in body.get("messages") or [] if m.get("role") in ("system", "developer")]
    return _text(systems[0].get("content")).strip() if systems else ""


def reply_for(
    body: dict[str, Any], behaviour: Behaviour | None = None
) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """``(kind, message, logprobs)`` for one chat-completions request body."""
    behaviour = behaviour or Behaviour()
    question = question_of(body)
    tool = forced_tool(body)
    if tool is not None:
        args = arguments_for(tool.get("parameters") or {}, question)
        if tool.get("name") == "AnswerCheck" and behaviour.wrong_first_draft:
            users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
            answer = _ANSWER_BLOCK.search(_text(users[-1].get("content")) if users else "")
            if answer and "1950" in answer.group(1):
                args |= {"grounded": False, "unsupported": [WRONG_CLAIM], "reason": "wrong year"}
        call = {
            "id": "call_stub_1",
            "type": "function",
            "function": {"name": tool.get("name", "tool"), "arguments": json.dumps(args)},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return tool.get("name", "tool"), message, None
    if _system_prompt(body).lower().startswith(_ECHO_PROMPTS):
        kind, text = "echo", question
    elif behaviour.quote and not body.get("logprobs"):
        kind, text = "answer", _quoted_answer(body, behaviour)
    else:
        kind, text = "answer", ANSWER
    logprobs = None
    if body.get("logprobs"):
        kind = "closed_book"
        tokens = re.findall(r"\s*\S+", text)
        logprobs = {
            "content": [
                {"token": t, "logprob": LOW_LOGPROB, "bytes": list(t.encode()), "top_logprobs": []}
                for t in tokens
            ]
        }
    return kind, {"role": "assistant", "content": text}, logprobs


def _completion_text(message: dict[str, Any]) -> str:
    calls = message.get("tool_calls") or []
    return message.get("content") or " ".join(c["function"]["arguments"] for c in calls)


def _chunk(body: dict[str, Any], n: int, delta: dict[str, Any], finish: str | None) -> str:
    chunk = {
        "id": f"chatcmpl-stub-{n}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", MODEL_ID),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


def create_app(latency: Latency | None = None, behaviour: Behaviour | None = None) -> Any:
    """The stub as a Starlette app; its :class:`Stats` are ``app.state.stats``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    latency = latency or Latency()
    behaviour = behaviour or Behaviour()
    stats = Stats()

    async def streamed(body: dict[str, Any], message: dict[str, Any], started: float):
        """The reply as SSE chunks: the base latency, then one token per ``token_ms``."""
        try:
            await asyncio.sleep(latency.seconds(0))
            yield _chunk(body, stats.calls, {"role": "assistant", "content": ""}, None)
            if message.get("tool_calls"):
                calls = [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]
                yield _chunk(body, stats.calls, {"tool_calls": calls}, None)
            else:
                text, sent = message.get("content") or "", ""
                marked = False
                for token in re.findall(r"\s*\S+", text):
                    await asyncio.sleep(behaviour.token_ms / 1000)
                    sent += token
                    if not marked and sent.rstrip()[-1:] in ".!?":
                        stats.first_sentence_s.append(round(time.monotonic() - started, 4))
                        marked = True
                    yield _chunk(body, stats.calls, {"content": token}, None)
            finish = "tool_calls" if message.get("tool_calls") else "stop"
            yield _chunk(body, stats.calls, {}, finish)
            yield "data: [DONE]\n\n"
        finally:
            stats.in_flight -= 1

    def error(status: int, message: str) -> JSONResponse:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        return JSONResponse(body, status_code=status)

    async def chat(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "body is not JSON")
        if not isinstance(body, dict) or not body.get("messages"):
            return error(400, "messages are required")
        started = time.monotonic()
        kind, message, logprobs = reply_for(body, behaviour)
        prompt = estimate_tokens(json.dumps(body.get("messages"), ensure_ascii=False))
        prompt += estimate_tokens(json.dumps(body.get("tools") or [], ensure_ascii=False))
        completion = estimate_tokens(_completion_text(message)) or 1
        stats.calls += 1
        stats.by_kind[kind] += 1
        stats.prompt_tokens += prompt
        stats.completion_tokens += completion
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        if body.get("stream"):
            return StreamingResponse(
                streamed(body, message, started), media_type="text/event-stream"
            )
        try:
            await asyncio.sleep(latency.seconds(completion))
        finally:
            stats.in_flight -= 1
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            "logprobs": logprobs,
        }
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return JSONResponse(
            {
                "id": f"chatcmpl-stub-{stats.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", MODEL_ID),
                "choices": [choice],
                "usage": usage,
            }
        )

    async def models(_: Request) -> JSONResponse:
        data = [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "benchmark"}]
        return JSONResponse({"object": "list", "data": data})

    async def read_stats(_: Request) -> JSONResponse:
        return JSONResponse(stats.as_dict())

    async def reset_stats(_: Request) -> JSONResponse:
        before = stats.as_dict()
        stats.reset()
        return JSONResponse(before)

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/stats", read_stats, methods=["GET"]),
            Route("/stats/reset", reset_stats, methods=["POST"]),
        ]
    )
    app.state.stats = stats
    app.state.latency = latency
    app.state.behaviour = behaviour
    return app


@dataclass
class RunningStub:
    """A stub served from a thread of this process (tests)."""

    url: str
    stats: Stats

    @property
    def base_url(self) -> str:
        """What ``ARAG_BASE_URL`` / ``ChatOpenAI(base_url=...)`` take."""
        return self.url + "/v1"


@contextmanager
def running_stub(
    latency: Latency | None = None, behaviour: Behaviour | None = None
) -> Iterator[RunningStub]:
    """Serve the stub on a free 127.0.0.1 port from a daemon thread until the block ends."""
    import uvicorn

    app = create_app(latency, behaviour)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the LLM stub did not start")
        time.sleep(0.01)
    try:
        yield RunningStub(f"http://127.0.0.1:{port}", app.state.stats)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(argv: list[str] | None = None) -> None:
    """Serve the stub until interrupted (``make bench-serve`` starts it as a subprocess)."""
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serve.llm_stub", description=__doc__
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base-ms", type=float, default=Latency.base_ms, help="per call")
    parser.add_argument(
        "--per-100-tokens-ms", type=float, default=Latency.per_100_tokens_ms, help="per 100 out"
    )
    parser.add_argument("--token-ms", type=float, default=0.0, help="per streamed token")
    parser.add_argument("--quote", action="store_true", help="answers quote document 1")
    parser.add_argument(
        "--wrong-first-draft", choices=("opening", "middle"), default="", help="see above"
    )
    parser.add_argument("--sentences", type=int, default=2, help="in a quoting answer")
    args = parser.parse_args(argv)
    behaviour = Behaviour(args.token_ms, args.quote, args.wrong_first_draft, args.sentences)
    app = create_app(Latency(args.base_ms, args.per_100_tokens_ms), behaviour)
    # One event loop answers every call: each waits in asyncio.sleep, so calls overlap freely.
    # No access log: one line per call would cost the shared cores more than the reply itself.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
