"""The ``/v1`` protocol as clients use it, against a real ``arag serve``: multi-part content,
usage, answer bounds, errors in OpenAI's format, any thread id, and the Responses API through
the official ``openai`` client and LangChain's ``ChatOpenAI(use_responses_api=True)``.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

import httpx
import openai
import pytest

from graph.prompts import ANSWER
from tests.fakes.openai_server import FakeOpenAIServer, Reply, _usage
from tests.serving import arag_serve, copy_index

pytestmark = pytest.mark.integration

KEY = "alice-key-0123456789abcdef"
TESLA = "What year did Tesla die?"
FOLLOW_UP = "Who did he partner with in 1886?"
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


@pytest.fixture(scope="module")
def server(sample_data_dir, tmp_path_factory):
    data = copy_index(sample_data_dir, tmp_path_factory.mktemp("protocol") / "data")
    with arag_serve(
        data, tmp_path_factory.mktemp("protocol-logs"), ARAG_API_KEYS=f"alice:{KEY}"
    ) as proc:
        yield proc


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=60)


def ask(server, messages, **kwargs):
    return client(server).chat.completions.create(model="adaptive-rag", messages=messages, **kwargs)


def answer_words(completion) -> list[str]:
    """The answer's words, without citation markers and the sources and notes appended."""
    text = completion.choices[0].message.content
    words = text.split("\n\nSources:")[0].split("\n\nNote:")[0].split()
    return [w for w in words if not re.fullmatch(r"(\[\d+\])+[.,;]?", w)]


# 1. Multi-part content -------------------------------------------------------------------------


def test_text_parts_are_read_and_an_image_is_ignored_with_a_visible_note(server):
    completion = ask(
        server,
        [{"role": "user", "content": [{"type": "text", "text": TESLA}, IMAGE]}],
    )
    text = completion.choices[0].message.content
    assert "1943" in text  # the text part was the question
    assert "Note: the image_url content was ignored" in text  # what a chat user reads
    assert completion.model_extra["warnings"] == [
        "the image_url content was ignored: this endpoint reads only the text of messages"
    ]
    plain = ask(server, [{"role": "user", "content": TESLA}])
    assert plain.model_extra["warnings"] == [] and "ignored" not in plain.choices[0].message.content


def test_history_with_refusal_parts_and_the_function_role_is_accepted(server):
    history = [
        {"role": "user", "content": [{"type": "text", "text": TESLA}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I cannot say."}]},
        {"role": "function", "name": "lookup", "content": "{}"},
        {"role": "assistant", "content": None, "refusal": "Still cannot."},
        {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]},
    ]
    completion = ask(server, history)
    assert "Robert Lane" in completion.choices[0].message.content
    # The follow-up was condensed with the history: the earlier user turn was read.
    assert completion.model_extra["path"][0]["decision"] == "offline_context"


def test_a_text_part_without_text_is_a_clear_400(server):
    with pytest.raises(openai.BadRequestError, match="needs a 'text' string") as refused:
        ask(server, [{"role": "user", "content": [{"type": "text"}]}])
    assert refused.value.body["param"].startswith("messages.0.content")


# 2. Usage -------------------------------------------------------------------------------------


def test_offline_usage_is_zeros_whole_and_in_the_last_stream_chunk(server):
    question = [{"role": "user", "content": TESLA}]
    whole = ask(server, question)
    assert whole.usage.model_dump() == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "completion_tokens_details": None,
        "prompt_tokens_details": None,
    }
    chunks = list(ask(server, question, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 0
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == (
        whole.choices[0].message.content
    )
    plain = list(ask(server, question, stream=True))
    assert all(c.choices for c in plain)  # no usage chunk unless asked for


# 4. Errors in OpenAI's format -----------------------------------------------------------------


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    return error


def test_unknown_routes_and_wrong_methods_are_openai_errors(server):
    auth = {"Authorization": f"Bearer {KEY}"}
    error = assert_openai_error(
        httpx.get(server.url + "/v1/nope", headers=auth), 404, "unknown_route"
    )
    assert error["message"] == "No route GET /v1/nope."
    wrong = httpx.get(server.url + "/v1/chat/completions", headers=auth)
    assert_openai_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"
    assert_openai_error(httpx.get(server.url + "/nope"), 404, "unknown_route")
    assert httpx.post(server.url + "/healthz").headers["allow"] == "GET"
    assert_openai_error(httpx.post(server.url + "/healthz"), 405, "method_not_allowed")
    # The SDK turns them into its typed errors with the message.
    with pytest.raises(openai.NotFoundError, match="No route POST /v1/embeddings"):
        client(server).embeddings.create(model="adaptive-rag", input="x")
    bad = httpx.post(server.url + "/v1/chat/completions", headers=auth, json={"messages": "x"})
    assert assert_openai_error(bad, 400, "invalid_request")["param"] == "messages"


# 6. Bounds on the answer ----------------------------------------------------------------------


def test_max_tokens_bounds_the_offline_answer_in_words(server):
    question = [{"role": "user", "content": TESLA}]
    full = answer_words(ask(server, question))
    assert len(full) > 4
    for bound in ({"max_tokens": 4}, {"max_completion_tokens": 4}):
        completion = ask(server, question, **bound)
        assert answer_words(completion) == full[:4]
        assert completion.model_extra["citations"]  # the cut sentence keeps its source


def test_stop_ends_the_answer_before_the_sequence(server):
    question = [{"role": "user", "content": TESLA}]
    full = " ".join(answer_words(ask(server, question)))
    assert "1943" in full
    cut = " ".join(answer_words(ask(server, question, stop=["1943"])))
    assert "1943" not in cut and full.startswith(cut)


def test_n_above_one_is_a_clear_400(server):
    with pytest.raises(openai.BadRequestError, match="n > 1 is not supported") as refused:
        ask(server, [{"role": "user", "content": TESLA}], n=2)
    assert refused.value.body["code"] == "unsupported_parameter"


# 7. Any thread id -----------------------------------------------------------------------------


def test_any_thread_id_string_names_a_thread_and_control_characters_do_not(server):
    thread = f"Zürich chat #{uuid.uuid4().hex[:6]} / ünïcode"
    first = ask(server, [{"role": "user", "content": TESLA}], metadata={"thread_id": thread})
    assert first.model_extra["thread_id"] == thread
    second = ask(
        server, [{"role": "user", "content": FOLLOW_UP}], metadata={"thread_id": thread}, user="u 1"
    )
    assert "Robert Lane" in second.choices[0].message.content
    stored = httpx.get(
        f"{server.url}/v1/threads/{quote(thread, safe='')}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert stored.status_code == 200 and len(stored.json()["messages"]) == 4
    for bad, why in (("tab\there", "control characters"), ("x" * 257, "1-256 characters")):
        with pytest.raises(openai.BadRequestError, match=why) as refused:
            ask(server, [{"role": "user", "content": TESLA}], metadata={"thread_id": bad})
        assert refused.value.body["code"] == "invalid_thread_id"
    with pytest.raises(openai.BadRequestError, match="control characters"):
        ask(server, [{"role": "user", "content": TESLA}], user="bob\nadmin")


# 5. The Responses API -------------------------------------------------------------------------


def test_responses_with_the_openai_client_whole_and_streamed(server):
    llm = client(server)
    whole = llm.responses.create(model="adaptive-rag", input=TESLA, instructions="Be brief.")
    assert whole.status == "completed" and whole.id.startswith("resp_")
    assert "1943" in whole.output_text and "nikola_tesla.md" in whole.output_text
    assert whole.instructions == "Be brief."
    assert whole.usage.total_tokens == 0
    assert whole.model_extra["citations"][0]["source"].endswith("nikola_tesla.md")
    events = list(llm.responses.create(model="adaptive-rag", input=TESLA, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == events[-1].response.output_text == whole.output_text
    assert len([k for k in kinds if k == "response.output_text.delta"]) > 5


def test_responses_continue_from_previous_response_id(server):
    llm = client(server)
    first = llm.responses.create(
        model="adaptive-rag",
        input=[{"role": "user", "content": [{"type": "input_text", "text": TESLA}]}],
    )
    second = llm.responses.create(
        model="adaptive-rag", input=FOLLOW_UP, previous_response_id=first.id
    )
    assert "Robert Lane" in second.output_text
    assert second.previous_response_id == first.id
    assert second.model_extra["path"][0]["decision"] == "offline_context"  # history was used
    unstored = llm.responses.create(model="adaptive-rag", input=TESLA, store=False)
    with pytest.raises(openai.NotFoundError, match="No response"):
        llm.responses.create(model="adaptive-rag", input="and?", previous_response_id=unstored.id)
    with pytest.raises(openai.NotFoundError, match="No response"):
        llm.responses.create(model="adaptive-rag", input="and?", previous_response_id="resp_x")


def test_responses_refuse_tools_and_structured_output_and_note_images(server):
    llm = client(server)
    with pytest.raises(openai.BadRequestError, match="tools are not supported"):
        llm.responses.create(
            model="adaptive-rag",
            input=TESLA,
            tools=[{"type": "function", "name": "f", "parameters": {}}],
        )
    with pytest.raises(openai.BadRequestError, match="text.format is not supported"):
        llm.responses.create(
            model="adaptive-rag",
            input=TESLA,
            text={"format": {"type": "json_object"}},
        )
    noted = llm.responses.create(
        model="adaptive-rag",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": TESLA},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                ],
            }
        ],
        max_output_tokens=4,
    )
    assert "Note: the input_image content was ignored" in noted.output_text
    assert noted.output_text.startswith("Tesla died on 7 [1]")


def test_responses_with_langchain_chat_openai(server):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model="adaptive-rag",
        base_url=server.url + "/v1",
        api_key=KEY,
        use_responses_api=True,
        max_retries=0,
    )
    reply = chat.invoke(TESLA)
    assert "1943" in reply.text
    assert reply.response_metadata["id"].startswith("resp_") or reply.id.startswith("resp_")
    assert reply.usage_metadata["total_tokens"] == 0
    streamed = list(chat.stream(TESLA))
    text = "".join(chunk.text for chunk in streamed)
    assert text == reply.text
    assert len(streamed) > 5


# 2 and 6 with a model: usage sums every call; max_tokens and stop reach the answer's call -------


def test_usage_sums_every_model_call_and_bounds_reach_the_answer_call(sample_data_dir, tmp_path):
    data = copy_index(sample_data_dir, tmp_path / "data")
    with FakeOpenAIServer() as llm:
        replies = [Reply.say("Tesla died in 1943 [1].") for _ in range(12)]
        llm.script(*replies)
        env = {
            "ARAG_MODEL": "openai:fake-model",
            "ARAG_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test",
        }
        with arag_serve(data, tmp_path, ARAG_API_KEYS=f"alice:{KEY}", **env) as served:
            completion = ask(
                served, [{"role": "user", "content": TESLA}], max_tokens=7, stop=["END"]
            )
        answered = [r.body for r in llm.requests[: len(replies)]]
    assert completion.model_extra["mode"] == "llm"
    # One access-log line for the request, none per provider call (httpx's INFO lines).
    log = served.log()
    assert "/v1/chat/completions" in log
    assert "HTTP Request" not in log
    expected = [_usage(reply, body) for reply, body in zip(replies, answered, strict=False)]
    assert len(expected) >= 2  # more than one call was summed
    assert completion.usage.prompt_tokens == sum(u["prompt_tokens"] for u in expected)
    assert completion.usage.completion_tokens == sum(u["completion_tokens"] for u in expected)
    assert completion.usage.total_tokens == sum(u["total_tokens"] for u in expected)
    bounded = [b for b in answered if b.get("stop") == ["END"]]
    assert bounded, [json.dumps(b)[:200] for b in answered]
    for body in bounded:  # only the answer's call carries the client's bounds
        assert ANSWER[:40] in body["messages"][0]["content"]
        assert body.get("max_tokens", body.get("max_completion_tokens")) == 7
