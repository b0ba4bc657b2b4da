"""A running ``arag serve`` sees what another process ingests or prunes, on its next query.

Two real processes: the server, and ``arag ingest`` run beside it. A pruned document must
stop being cited (a document removed for legal or privacy reasons must not stay live until a
restart), an added one must be found, and ``/readyz`` must report the current size.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import SAMPLE_CORPUS
from tests.serving import ROOT, arag_serve, server_env

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

TESLA = "What year did Tesla die?"


def ingest(docs, data, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "arag", "ingest", str(docs), "--data-dir", str(data), *extra],
        cwd=ROOT,
        env=server_env(data),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done


def ask(url: str, question: str) -> dict:
    reply = httpx.post(
        url + "/v1/chat/completions",
        json={"model": "adaptive-rag", "messages": [{"role": "user", "content": question}]},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def cited(answer: dict) -> set[str]:
    return {c["source"].rsplit("/", 1)[-1] for c in answer.get("citations") or []}


def chunks(url: str) -> int:
    return httpx.get(url + "/readyz", timeout=10).json()["index_chunks"]


def test_a_pruned_document_is_no_longer_cited_and_an_added_one_is_found(tmp_path, fault_ledger):
    docs, data = tmp_path / "docs", tmp_path / "data"
    shutil.copytree(SAMPLE_CORPUS, docs)
    ingest(docs, data)
    with arag_serve(data, tmp_path) as server:
        before = chunks(server.url)
        assert "nikola_tesla.md" in cited(ask(server.url, TESLA))

        with fault_ledger.fault("index", "document pruned by another process while serving") as f:
            tesla_chunks = ingest(docs, data, "--prune", "--dry-run").stdout
            (docs / "nikola_tesla.md").unlink()
            pruned = ingest(docs, data, "--prune")
            started = time.perf_counter()
            answer = ask(server.url, TESLA)
            delay = time.perf_counter() - started
            f.observe("pruned the file", "nikola_tesla.md" in pruned.stdout, expected=True)
            f.observe("cited after prune", "nikola_tesla.md" in cited(answer), expected=False)
            f.observe(
                "1943 still in the answer",
                "1943" in answer["choices"][0]["message"]["content"],
                expected=False,
            )
            removed = int(pruned.stdout.split("prune: deleted ")[1].split()[0])
            f.observe("/readyz chunks", chunks(server.url), expected=before - removed)
            assert tesla_chunks is not None and delay < 30

        with fault_ledger.fault("index", "document added by another process while serving") as f:
            (docs / "ada.md").write_text(
                "# Ada Lovelace\n\nAda Lovelace wrote the first published computer program "
                "for Charles Babbage's Analytical Engine in 1843.\n",
                "utf-8",
            )
            ingest(docs, data)
            answer = ask(server.url, "What did Ada Lovelace write for the Analytical Engine?")
            f.observe("cites the new file", "ada.md" in cited(answer), expected=True)
            f.observe("/readyz chunks", chunks(server.url), expected=before - removed + 1)
