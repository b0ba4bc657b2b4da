"""Fixtures for tests that talk to the local OpenAI/Groq wire stand-in."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tools.llm.chat_models import clear_model_cache

PROVIDER_ENV_VARS = (
    "ARAG_MODEL",
    "ARAG_BASE_URL",
    "ARAG_API_KEY",
    "OPENAI_API_KEY",
    "GROQ_API_KEY",
    "OPENAI_API_BASE",
    "OPENAI_BASE_URL",
    "GROQ_API_BASE",
    "GROQ_BASE_URL",
)


@pytest.fixture
def clean_provider_env(monkeypatch):
    """No provider settings from the developer's shell, and no cached model clients."""
    for name in PROVIDER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    clear_model_cache()
    yield
    clear_model_cache()


@pytest.fixture
def server():
    """A fresh scripted chat-completions stand-in on a free localhost port."""
    with FakeOpenAIServer() as srv:
        yield srv
