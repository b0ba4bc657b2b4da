"""Fuzz the HTTP API from its OpenAPI spec: no 5xx and no hangs, whatever the client sends.

The `arag serve` app runs in-process (Starlette's TestClient, lifespan included) with the real
offline graph over the sample index and a SQLite thread store. For every operation in the
app's OpenAPI document, hypothesis generates requests: bodies valid per the request schema
(:func:`schema_strategy`), arbitrary JSON, and raw bytes (broken JSON, invalid UTF-8, lone
surrogate escapes, control characters); path parameters and the ``X-Thread-Id`` header from
their schemas and from arbitrary text; with the right key, a wrong key or none.

Schemathesis is the usual tool for this, but no release fits this environment: 4.x needs
``jsonschema-rs>=0.60`` while ``langgraph-api`` pins ``<0.45``, and 3.x needs
``starlette<1`` while FastAPI needs ``>=1.6``. Its generator, hypothesis-jsonschema, fails
on the current hypothesis (``'many' object has no attribute 'more'``), hence the small
schema-to-strategy converter below, enough for the JSON Schema FastAPI emits. Schemathesis
itself runs from an environment of its own against a live ``arag serve`` in ``make
reliability`` (``benchmarks/schemathesis_run.py``, counts in
``benchmarks/results/schemathesis.md``).

``ARAG_FUZZ_EXAMPLES`` sets the cases per operation (default 100; 1000 in make reliability).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from arag.server.app import local_app
from arag.server.settings import ServerSettings
from graph.config import Context
from tests.serving import copy_index

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

EXAMPLES = int(os.environ.get("ARAG_FUZZ_EXAMPLES", "100"))
KEY = "fuzz-key-" + "x" * 24
SLOW_SECONDS = 30  # a response slower than this counts as a hang

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
RAW = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"{",
            b'{"messages": [{"role": "user", "content": "\\ud800"}]}',  # lone surrogate
            b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',  # invalid UTF-8
            b'{"messages": [{"role": "user", "content": "a\\u0000b\\u001b[2J"}]}',
            b'{"model": "adaptive-rag", "messages": [{"role": "user", "content": ""}]}',
            b"[]",
            b"null",
        ]
    ),
)
# Requests the graph really answers: the schema alone mostly gives unknown models and
# conversations without a user turn, which are refused before the graph runs.
QUESTION = st.one_of(st.text(max_size=300), st.sampled_from(["When did Tesla die?", " ", "\x00"]))
TURN = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system"]), "content": QUESTION}
)
ANSWERABLE = st.fixed_dictionaries(
    {
        "model": st.just("adaptive-rag"),
        "messages": st.tuples(st.lists(TURN, max_size=3), QUESTION).map(
            lambda turns: [*turns[0], {"role": "user", "content": turns[1]}]
        ),
    },
    optional={"stream": st.booleans(), "user": st.text(max_size=20)},
)
AUTH = st.sampled_from([{"Authorization": f"Bearer {KEY}"}, {"Authorization": "Bearer wrong"}, {}])


@pytest.fixture(scope="module")
def api(sample_data_dir, tmp_path_factory):
    data = copy_index(sample_data_dir, tmp_path_factory.mktemp("fuzz") / "data")
    os.environ.setdefault("ARAG_MODEL", "offline")
    app = local_app(
        ServerSettings(api_keys={KEY: "alice"}, max_body_bytes=20_000),
        Context(data_dir=str(data), model="offline"),
    )
    spec = app.openapi()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, spec


def inline_refs(schema, components):
    """The schema with ``#/components/schemas/...`` references replaced by their targets."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref:
            return inline_refs(components[ref.rsplit("/", 1)[-1]], components)
        return {k: inline_refs(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [inline_refs(v, components) for v in schema]
    return schema


def schema_strategy(schema: dict) -> st.SearchStrategy:
    """Values valid for ``schema`` (refs inlined), for the keywords FastAPI's schemas use."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([schema_strategy(s) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([schema_strategy({**schema, "type": k}) for k in kind])
    if kind == "string":
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 200), 200)
        )
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(
            schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(
            schema_strategy(schema.get("items", {})),
            min_size=low,
            max_size=max(low, min(schema.get("maxItems", 4), 4)),
        )
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: schema_strategy(v) for k, v in props.items() if k in required},
            optional={k: schema_strategy(v) for k, v in props.items() if k not in required},
        )
    return JSON


def operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def call(client, method, path, *, headers, body=None, raw=None):
    started = time.monotonic()
    if method == "GET":
        response = client.get(path, headers=headers)
    elif raw is not None:
        response = client.request(
            method, path, content=raw, headers={**headers, "Content-Type": "application/json"}
        )
    else:
        response = client.request(method, path, json=body, headers=headers)
    _ = response.content  # streamed answers are read to the end
    elapsed = time.monotonic() - started
    return response, elapsed


def check(response, elapsed, what):
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"
    assert elapsed < SLOW_SECONDS, f"{what}: took {elapsed:.1f}s"
    if response.headers.get("content-type", "").startswith("application/json"):
        json.loads(response.text)  # error bodies are JSON too


def strategy_for(op, components):
    """A (path params, headers, body or raw) strategy for one operation."""
    params = {}
    for param in op.get("parameters", []):
        schema = inline_refs(param.get("schema", {}), components)
        params[(param["in"], param["name"])] = st.one_of(
            schema_strategy(schema), st.text(max_size=80)
        ).map(str)
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    body_strategy = st.none()
    if body:
        schema = inline_refs(body["schema"], components)
        body_strategy = st.one_of(
            ANSWERABLE.map(lambda b: ("json", b)),
            schema_strategy(schema).map(lambda b: ("json", b)),
            JSON.map(lambda b: ("json", b)),
            RAW.map(lambda b: ("raw", b)),
        )
    return st.fixed_dictionaries(
        {"params": st.fixed_dictionaries(params), "body": body_strategy, "auth": AUTH}
    )


def header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


def fuzzer(client, method, path, op, components, counter):
    """The hypothesis test for one operation; each case appends its status to ``counter``."""

    @given(case=strategy_for(op, components))
    @FUZZ
    def fuzz(case):
        url = path
        headers = dict(case["auth"])
        for (where, name), value in case["params"].items():
            if where == "path":
                url = url.replace("{" + name + "}", quote(value, safe="") or "x")
            elif where == "header" and header_safe(value):
                headers[name] = value
        kind, payload = case["body"] or (None, None)
        response, elapsed = call(
            client,
            method,
            url,
            headers=headers,
            body=payload if kind == "json" else None,
            raw=payload if kind == "raw" else None,
        )
        check(response, elapsed, f"{method} {url}")
        counter.append(response.status_code)

    return fuzz


@pytest.mark.timeout(1800)  # 1,000 cases per operation in make reliability
def test_no_5xx_and_no_hangs_from_the_openapi_spec(api, fault_ledger):
    client, spec = api
    components = spec.get("components", {}).get("schemas", {})
    for method, path, op in operations(spec):
        statuses: list[int] = []
        with fault_ledger.fault("http", f"fuzzed {method} {path} (OpenAPI)") as fault:
            fault.observe_run(
                "hypothesis property", fuzzer(client, method, path, op, components, statuses)
            )
            fault.observe("5xx answers", [s for s in statuses if s >= 500], expected=[])
            fault.cases = len(statuses)
        print(method, path, dict(Counter(statuses)))
        if path == "/v1/chat/completions":
            # Not only refusals: schema-valid cases with the right key got answers.
            assert {200, 401} <= set(statuses) and {400, 422} & set(statuses), statuses
