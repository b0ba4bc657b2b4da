"""The Dockerfile parses and runs ``arag serve`` safely (Docker itself cannot run here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTRUCTIONS = {
    "FROM", "ENV", "WORKDIR", "COPY", "RUN", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "CMD",
    "ARG", "LABEL", "ENTRYPOINT",
}  # fmt: skip


@pytest.fixture(scope="module")
def dockerfile():
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return parser


def test_every_instruction_is_known_and_every_copied_path_exists(dockerfile):
    structure = [s for s in dockerfile.structure if s["instruction"] != "COMMENT"]
    assert structure[0]["instruction"] == "FROM"
    assert dockerfile.baseimage.startswith("python:3.11")
    assert {s["instruction"] for s in structure} <= INSTRUCTIONS
    ignored = (ROOT / ".dockerignore").read_text().split()
    for step in (s for s in structure if s["instruction"] == "COPY"):
        *sources, _dest = step["value"].split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            assert source not in ignored, f"COPY {source} is excluded by .dockerignore"


def test_runs_arag_serve_on_all_interfaces_as_a_non_root_user(dockerfile):
    cmd = json.loads(dockerfile.cmd)
    # Binding 0.0.0.0 is what makes arag serve refuse to start without ARAG_API_KEYS.
    assert cmd == ["arag", "serve", "--host", "0.0.0.0", "--port", "8000"]
    users = [s["value"] for s in dockerfile.structure if s["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = next(s["value"] for s in dockerfile.structure if s["instruction"] == "HEALTHCHECK")
    assert "/healthz" in health
    assert "8000" in next(s["value"] for s in dockerfile.structure if s["instruction"] == "EXPOSE")
