"""A server does its slow loading before it reports ready, and only once.

Measured before (``python -m benchmarks.cold_start``): the first burst of 64 questions after a
start took 17.3 s against 3.1 s warm, with 757 MB peak RSS against 533 MB, because every
concurrent first request decompressed the language-identification model itself.
"""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from arag.server.app import local_app
from arag.server.settings import ServerSettings
from graph.config import Context
from tools.text import language

pytestmark = pytest.mark.integration


@pytest.fixture
def counted_loads(monkeypatch):
    """How many times py3langid's model is read from its file, from a cold cache."""
    from py3langid.langid import LanguageIdentifier

    loads: list[int] = []
    real = LanguageIdentifier.from_modelpath.__func__

    def counting(cls, *args, **kwargs):
        loads.append(1)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(LanguageIdentifier, "from_modelpath", classmethod(counting))
    language._load_identifier.cache_clear()
    yield loads
    language._load_identifier.cache_clear()


def test_concurrent_first_questions_load_the_language_model_once(counted_loads):
    start = threading.Barrier(8)
    detected: list[str] = []

    def first_question() -> None:
        start.wait()
        detected.append(language.detect_language("Wann ist Nikola Tesla gestorben, und wo?"))

    threads = [threading.Thread(target=first_question) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert detected == ["de"] * 8
    assert len(counted_loads) == 1


def test_the_server_is_warm_when_it_reports_ready(sample_data_dir, counted_loads, monkeypatch):
    """Loaded during start-up, before any question; one index for both graphs and /readyz."""
    import tools.index

    opened: list[str] = []
    real_open = tools.index.open_index

    def counting_open(*args, **kwargs):
        opened.append(str(args[0]))
        return real_open(*args, **kwargs)

    monkeypatch.setattr(tools.index, "open_index", counting_open)
    app = local_app(ServerSettings(), Context(data_dir=str(sample_data_dir), model="offline"))
    with TestClient(app) as client:
        assert (len(counted_loads), len(opened)) == (1, 1)
        assert client.get("/readyz").status_code == 200
        for thread in ({}, {"X-Thread-Id": "warm-1"}):  # the stateless and the threaded graph
            reply = client.post(
                "/v1/chat/completions",
                json={
                    "model": "adaptive-rag",
                    "messages": [{"role": "user", "content": "When did Nikola Tesla die?"}],
                },
                headers=thread,
            )
            assert reply.status_code == 200
            assert "1943" in reply.json()["choices"][0]["message"]["content"]
    assert (len(counted_loads), len(opened)) == (1, 1)
