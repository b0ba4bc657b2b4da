"""Structured output: tolerant JSON parsing, repair of near-miss tool calls, bounded retries."""

from __future__ import annotations

import typing

import groq
import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel, Field

from tests.fakes.scripted_chat_model import ScriptedChatModel, raw_tool_message, tool_message
from tools.llm.structured import invoke_structured, openai_tool, parse_json_loosely


class Grade(BaseModel):
    relevant: bool
    score: float = Field(ge=0, le=1)


class Batch(BaseModel):
    ids: list[int]


# --- parse_json_loosely -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure! Here it is:\n```json\n{"a": 1}\n```\nAnything else?', {"a": 1}),
        ("```\n{'a': 'b'}\n```", {"a": "b"}),
        ("{'a': 'it\\'s', 'b': True, 'c': None}", {"a": "it's", "b": True, "c": None}),
        ('{"a": [1, 2,], "b": {"c": 3,},}', {"a": [1, 2], "b": {"c": 3}}),
        (
            '<function=Grade>{"relevant": true, "note": "has } brace"}</function>',
            {"relevant": True, "note": "has } brace"},
        ),
        ('"{\\"a\\": 2}"', {"a": 2}),  # an object double-encoded as a JSON string
        ('[{"a": 1}]', {"a": 1}),
        ('{"a": "line one\nline two"}', {"a": "line one\nline two"}),
        ('The answer is {"a": 1} and then {"b": 2}', {"a": 1}),
    ],
)
def test_parse_json_loosely_recovers_objects(text, expected):
    assert parse_json_loosely(text) == expected


@pytest.mark.parametrize("text", ["", None, "no json here", '{"a": 1', "[1, 2, 3]", "{}x{"])
def test_parse_json_loosely_returns_none_when_there_is_no_object(text):
    assert parse_json_loosely(text) in (None, {})


def test_parse_json_loosely_rejects_truncated_objects_instead_of_guessing():
    assert parse_json_loosely('{"answer": "Paris is the capital of') is None


# --- invoke_structured ---------------------------------------------------------------------

MESSAGES = [HumanMessage("Is this document relevant?")]


async def test_clean_tool_call_parses_without_repair():
    model = ScriptedChatModel(script=[tool_message({"relevant": True, "score": 0.9}, "Grade")])
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and not result.repaired and result.attempts == 1
    assert result.value == Grade(relevant=True, score=0.9)
    # Function calling, forced: the request binds the schema as the one tool the model must call.
    kwargs = model.calls[0]["kwargs"]
    assert [t["function"]["name"] for t in kwargs["tools"]] == ["Grade"]
    assert kwargs["tool_choice"] == "Grade"


async def test_unparseable_tool_arguments_are_repaired():
    raw = "Here you go: {'relevant': 'yes', 'score': '0.8',}"
    model = ScriptedChatModel(script=[raw_tool_message(raw, "Grade")])
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and result.repaired and result.attempts == 1
    assert result.value == Grade(relevant=True, score=0.8)


async def test_json_in_prose_without_a_tool_call_is_repaired():
    text = 'I think:\n```json\n{"relevant": false, "score": "15%"}\n```'
    model = ScriptedChatModel(script=[AIMessage(text)])
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and result.repaired
    assert result.value == Grade(relevant=False, score=0.15)


async def test_arguments_wrapped_in_an_extra_object_are_unwrapped():
    args = {"Grade": {"relevant": "true", "score": "0.7"}}
    model = ScriptedChatModel(script=[tool_message(args, "Grade")])
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and result.repaired
    assert result.value == Grade(relevant=True, score=0.7)


async def test_list_field_sent_as_a_json_string_is_decoded():
    model = ScriptedChatModel(script=[tool_message({"ids": "[3, 1, 2]"}, "Batch")])
    result = await invoke_structured(model, Batch, MESSAGES)
    assert result.ok and result.value == Batch(ids=[3, 1, 2])


def _groq_tool_use_failed(failed_generation: str) -> groq.BadRequestError:
    body = {
        "error": {
            "message": "Failed to call a function. Please adjust your prompt. "
            "See 'failed_generation' for more details.",
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "failed_generation": failed_generation,
        }
    }
    request = httpx.Request("POST", "https://api.groq.com/openai/v1/chat/completions")
    response = httpx.Response(400, request=request, json=body)
    return groq.BadRequestError(f"Error code: 400 - {body}", response=response, body=body)


async def test_groq_failed_generation_is_repaired_without_another_call():
    error = _groq_tool_use_failed('<function=Grade>{"relevant": true, "score": 0.6}</function>')
    model = ScriptedChatModel(script=[error])
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and result.repaired and result.attempts == 1
    assert result.value == Grade(relevant=True, score=0.6)


async def test_unrepairable_output_is_retried_with_a_corrective_message():
    good = tool_message({"relevant": True, "score": 1.0}, "Grade")
    model = ScriptedChatModel(script=[AIMessage("I cannot decide."), good])
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and result.attempts == 2
    retry_messages = model.calls[1]["messages"]
    assert retry_messages[0] == MESSAGES[0]
    note = retry_messages[-1].content
    assert "Grade" in note and "relevant (bool)" in note and "score (float)" in note
    # the corrective note is not stacked on later retries
    assert len(retry_messages) == len(MESSAGES) + 1


async def test_repeated_garbage_gives_a_readable_failure_and_bounded_calls():
    error = _groq_tool_use_failed("I am not able to call tools today")
    model = ScriptedChatModel(script=[AIMessage("nope"), error, raw_tool_message("{{{", "Grade")])
    result = await invoke_structured(model, Grade, MESSAGES, retries=2)
    assert not result.ok and result.value is None
    assert result.attempts == 3 and len(model.calls) == 3
    assert result.error.startswith("Grade: no valid output after 3 attempt(s)")


async def test_validation_errors_are_reported_by_field():
    bad = tool_message({"relevant": "maybe", "score": 3}, "Grade")
    model = ScriptedChatModel(script=[bad])
    result = await invoke_structured(model, Grade, MESSAGES, retries=0)
    assert not result.ok and result.attempts == 1
    assert "relevant" in result.error and "score" in result.error


async def test_transport_errors_propagate_for_the_caller_to_route():
    request = httpx.Request("POST", "https://api.groq.com/openai/v1/chat/completions")
    limited = groq.RateLimitError(
        "rate limited", response=httpx.Response(429, request=request), body=None
    )
    model = ScriptedChatModel(script=[limited])
    with pytest.raises(groq.RateLimitError):
        await invoke_structured(model, Grade, MESSAGES)
    assert len(model.calls) == 1  # not retried here: the SDK already did its own retries


async def test_plain_string_input_is_accepted():
    model = ScriptedChatModel(script=[tool_message({"relevant": False, "score": 0}, "Grade")])
    assert (await invoke_structured(model, Grade, "grade this")).ok
    assert model.calls[0]["messages"][0].content == "grade this"


async def test_unrepairable_failed_generation_is_retried_then_repaired():
    # Was the test of the removed async twin: invoke_structured itself is async now.
    error = _groq_tool_use_failed("no json")
    model = ScriptedChatModel(
        script=[error, raw_tool_message('{"relevant": "no", "score": ".2"}', "Grade")]
    )
    result = await invoke_structured(model, Grade, MESSAGES)
    assert result.ok and result.repaired and result.attempts == 2
    assert result.value == Grade(relevant=False, score=0.2)


class CountedSchema(BaseModel):
    """A schema that counts how often it is turned into a JSON schema (a tool conversion)."""

    answer: str

    conversions: typing.ClassVar[int] = 0

    @classmethod
    def model_json_schema(cls, *args, **kwargs):
        CountedSchema.conversions += 1
        return super().model_json_schema(*args, **kwargs)


async def test_the_tool_schema_is_converted_once_and_sent_unchanged():
    from langchain_core.utils.function_calling import convert_to_openai_tool

    expected = convert_to_openai_tool(CountedSchema)
    CountedSchema.conversions = 0
    for _ in range(3):
        model = ScriptedChatModel(script=[tool_message({"answer": "yes"}, "CountedSchema")])
        result = await invoke_structured(model, CountedSchema, [HumanMessage("q")])
        assert result.ok and result.value.answer == "yes"
    assert CountedSchema.conversions <= 1  # at most the first call converts it
    bound = model.bind_tools([openai_tool(CountedSchema)], tool_choice="CountedSchema")
    assert bound.kwargs["tools"] == [expected]
