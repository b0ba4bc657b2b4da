"""Structured output that survives small models: function calling, tolerant repair, bounded retry.

Llama models on Groq (and many self-hosted models) often emit almost-right tool arguments:
JSON wrapped in prose or fences, single quotes, trailing commas, ``"0.8"`` for a float, or
the whole object nested under the schema name. Groq additionally rejects such output with an
HTTP 400 ``tool_use_failed`` whose ``failed_generation`` holds the raw text (langchain#23629,
langgraph#2938). :func:`invoke_structured` repairs what it can, retries with a corrective
message otherwise, and reports failure as a value instead of raising.

Malformed *output* never raises. Provider *transport* errors (429, 5xx, timeouts, connection
resets, after the SDK's own ``max_retries``) do propagate: the caller picks the fallback route.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, convert_to_messages
from pydantic import BaseModel, ValidationError

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_MAX_ERROR_CHARS = 300


@dataclass
class StructuredResult:
    """Outcome of a structured call.

    ``value`` is the validated schema instance (None when ``ok`` is False); ``attempts``
    counts model calls made; ``error`` describes the last parse failure; ``repaired`` tells
    whether the value came from tolerant repair rather than the provider's own parser.
    """

    value: BaseModel | None
    ok: bool
    attempts: int
    error: str | None
    repaired: bool


async def invoke_structured(
    model: Any,
    schema: type[BaseModel],
    messages: Any,
    *,
    retries: int = 2,
    config: Any = None,
) -> StructuredResult:
    """Call ``model`` for a ``schema`` instance, repairing or retrying malformed output.

    Makes at most ``retries + 1`` model calls. Returns ``ok=False`` with a short error when
    every attempt is unusable; transport errors propagate (see module docstring).
    """
    session = _Session(model, schema, messages, retries)
    while session.more():
        try:
            output = await session.runnable.ainvoke(session.next_messages(), config=config)
        except Exception as exc:
            failed = failed_generation(exc)
            if failed is None:
                raise  # transport or configuration error: the caller picks the route
            result = session.on_failed_generation(failed)
        else:
            result = session.on_output(output)
        if result is not None:
            return result
    return session.failure()


@functools.cache
def openai_tool(schema: type[BaseModel]) -> dict[str, Any]:
    """``schema`` as an OpenAI-format tool, converted once per schema (a dict to read only).

    ``bind_tools`` converts a Pydantic class on every call (0.27-0.54 ms for these schemas,
    several times per question); an OpenAI-format dict it passes through unchanged, so every
    provider receives the same tool as before.
    """
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(schema)


class _Session:
    """The attempt loop's state: the bound tool, the attempts made, the last parse error."""

    def __init__(self, model: Any, schema: type[BaseModel], messages: Any, retries: int):
        self.schema = schema
        # The tool is bound directly instead of through with_structured_output(include_raw=True):
        # that wrapper runs its parser in a RunnableParallel with fallbacks, which starts worker
        # threads on every call (about 6 ms of pure overhead per call, measured with zero-latency
        # fakes in make bench-graph), and we parse and repair the raw message ourselves anyway.
        self.runnable = model.bind_tools([openai_tool(schema)], tool_choice=schema.__name__)
        self.base = _as_messages(messages)
        self.max_attempts = max(0, retries) + 1
        self.attempts = 0
        self.error: str | None = None

    def more(self) -> bool:
        return self.attempts < self.max_attempts

    def next_messages(self) -> list[BaseMessage]:
        self.attempts += 1
        if self.error is None:
            return self.base
        # One corrective note (not a growing transcript): the failed output itself is not
        # replayed, because an assistant tool call without tool results is invalid input.
        return [*self.base, HumanMessage(_corrective_note(self.schema, self.error))]

    def on_output(self, message: Any) -> StructuredResult | None:
        parsed = self._parse_tool_call(message)
        if parsed is not None:
            return StructuredResult(parsed, True, self.attempts, None, False)
        value, error = repair_from_message(self.schema, message)
        if value is not None:
            return StructuredResult(value, True, self.attempts, None, True)
        self.error = error or "no structured output"
        return None

    def _parse_tool_call(self, message: Any) -> BaseModel | None:
        """The schema from a clean call of our tool, as the provider's own parser would give it."""
        for call in getattr(message, "tool_calls", None) or []:
            if call.get("name") == self.schema.__name__:
                try:
                    return self.schema.model_validate(call.get("args") or {})
                except ValidationError:
                    return None
        return None

    def on_failed_generation(self, text: str) -> StructuredResult | None:
        value, error = repair_from_text(self.schema, text)
        if value is not None:
            return StructuredResult(value, True, self.attempts, None, True)
        reason = error or "no JSON object in failed_generation"
        self.error = f"provider rejected the tool call (tool_use_failed): {reason}"
        return None

    def failure(self) -> StructuredResult:
        error = f"{self.schema.__name__}: no valid output after {self.attempts} attempt(s): "
        return StructuredResult(None, False, self.attempts, error + (self.error or ""), False)


def parse_json_loosely(text: str | None) -> dict[str, Any] | None:
    """Extract the first JSON-ish object from model text, or None.

    Accepts plain JSON, JSON inside ```json fences or surrounded by prose (e.g. Llama's
    ``<function=Name>{...}</function>``), single-quoted strings, trailing commas, Python
    ``True/False/None``, and a JSON object encoded as a JSON string. Truncated objects are
    rejected rather than guessed at.
    """
    # Not langchain_core.utils.json: its parse_partial_json closes truncated JSON, and a cut-off
    # '{"answer": "Paris is the capital of' must not validate as an answer; parse_json_markdown
    # with a strict parser reads only from the first fence to the end of the text, so prose
    # after the fence defeats it, and a schema example in the prose would then win over the
    # fenced answer. _FENCE tries every fence, each up to its closing backticks.
    if not text or not isinstance(text, str):
        return None
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        for chunk in [candidate.strip(), *_balanced_objects(candidate)]:
            value = _loads_jsonish(chunk)
            if isinstance(value, str):  # double-encoded: "{\"a\": 1}"
                value = _loads_jsonish(value)
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if isinstance(value, dict):
                return value
    return None


def failed_generation(exc: BaseException) -> str | None:
    """Return the raw model text from Groq's 400 ``tool_use_failed`` error, else None.

    Duck-typed on the error body so it works for ``groq.BadRequestError`` and for
    ``openai.BadRequestError`` raised when ChatOpenAI talks to Groq's OpenAI endpoint.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        body = getattr(exc, "body", None)
        if isinstance(body, dict):
            error = body.get("error", body)
            if isinstance(error, dict) and (
                "failed_generation" in error or error.get("code") == "tool_use_failed"
            ):
                return str(error.get("failed_generation") or "")
        exc = exc.__cause__ or exc.__context__
    return None


def repair_from_message(
    schema: type[BaseModel], message: Any
) -> tuple[BaseModel | None, str | None]:
    """Try every place an AIMessage may hide the arguments; return (value, last error)."""
    if not isinstance(message, AIMessage):
        return None, "the model returned no message"
    candidates: list[Any] = [tc.get("args") for tc in message.tool_calls]
    candidates += [tc.get("args") for tc in message.invalid_tool_calls]
    for tc in message.additional_kwargs.get("tool_calls") or []:
        candidates.append((tc.get("function") or {}).get("arguments"))
    candidates.append(message.text)
    error = "the model called no function and wrote no JSON"
    for candidate in candidates:
        value, err = _validate_candidate(schema, candidate)
        if value is not None:
            return value, None
        error = err or error
    return None, error


def repair_from_text(schema: type[BaseModel], text: str) -> tuple[BaseModel | None, str | None]:
    """Validate ``schema`` from raw model text such as Groq's ``failed_generation``."""
    if not text:
        return None, "empty failed_generation"
    value, error = _validate_candidate(schema, text)
    return value, None if value is not None else error or "no JSON object in the text"


def _validate_candidate(schema: type[BaseModel], candidate: Any) -> tuple[Any, str | None]:
    data = parse_json_loosely(candidate) if isinstance(candidate, str) else candidate
    if not isinstance(data, dict) or not data:
        return None, None
    error: str | None = None
    for variant in _variants(schema, data):
        try:
            return schema.model_validate(_coerce(schema, variant)), None
        except ValidationError as exc:
            error = error or _short(exc)
    return None, error


def _variants(schema: type[BaseModel], data: dict[str, Any]) -> list[dict[str, Any]]:
    """List ``data``, then what a lone non-field key wraps: {"Grade": {...}}, {"args": {...}}."""
    # Neither pydantic nor langchain_core's tool-call parsers unwrap an object nested this way.
    out = [data]
    fields = set(schema.model_fields)
    inner = data
    for _ in range(2):  # {"Grade": {"parameters": {...}}} is seen in the wild
        if len(inner) != 1:
            break
        ((key, value),) = inner.items()
        if key in fields or not isinstance(value, dict):
            break
        inner = value
        out.append(inner)
    return out


def _coerce(schema: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Fix values pydantic's lax mode does not: "80%", "0.8 (high)", "[...]" as a string."""
    # pydantic's lax mode rejects these, and " yes " or "Yes." for a bool as well.
    out = dict(data)
    for name, field in schema.model_fields.items():
        key = name if name in out else field.alias if field.alias in out else None
        if key is None or not isinstance(out[key], str):
            continue
        out[key] = _coerce_value(_base_type(field.annotation), out[key])
    return out


def _coerce_value(kind: Any, text: str) -> Any:
    stripped = text.strip()
    if kind is bool:
        low = stripped.lower().rstrip(".")
        return True if low in _TRUE else False if low in _FALSE else text
    if kind in (int, float):
        try:
            number = float(stripped)
        except ValueError:
            number = None
        if number is not None:
            return int(number) if kind is int and number.is_integer() else number
        match = re.match(r"^[^\d\-+.]*([-+]?\d*\.?\d+)\s*(%?)", stripped)
        if not match:
            return text
        number = float(match.group(1)) / (100 if match.group(2) else 1)
        return int(number) if kind is int and number.is_integer() else number
    if kind in (list, dict) or (isinstance(kind, type) and issubclass(kind, BaseModel)):
        parsed = _loads_jsonish(stripped)
        return parsed if parsed is not None else text
    return text


def _base_type(annotation: Any) -> Any:
    """``float`` for ``float``, ``float | None``, ``Annotated[float, ...]``; origin for generics."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else annotation
    return origin or annotation


def _balanced_objects(text: str) -> list[str]:
    """Every top-level ``{...}`` span in ``text``, skipping braces inside quoted strings."""
    # langchain_core finds no object inside prose ('<function=Grade>{...}</function>'), and
    # json.JSONDecoder.raw_decode only reads strict JSON, not "{'a': 'b',}" after "Here you go:".
    # Quotes count only inside braces, so an apostrophe in the prose opens no string.
    spans, depth, start, quote, escaped = [], 0, -1, "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and depth:
            quote = ch
        elif ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def _loads_jsonish(text: str) -> Any:
    # json and langchain_core reject single quotes, trailing commas and True/False/None;
    # ast.literal_eval takes Python syntax but not JSON's true/false/null beside single quotes,
    # nor raw newlines in a string, which is why _normalize_jsonish rewrites to JSON first.
    if not text:
        return None
    for attempt in (text, _normalize_jsonish(text)):
        try:
            # strict=False: models put raw newlines inside strings
            return json.loads(attempt, strict=False)
        except ValueError:
            continue
    try:  # Python-literal dicts: {'a': 'it\'s', 'b': True}
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _normalize_jsonish(text: str) -> str:
    """Rewrite single-quoted strings, trailing commas and Python literals into JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j : j + 2] if text[j + 1] != "'" else "'")
                    j += 2
                    continue
                buf.append('\\"' if text[j] == '"' else text[j])
                j += 1
            out.append('"' + "".join(buf) + '"')
            i = j + 1
        elif ch == ",":
            rest = text[i + 1 :].lstrip()
            if rest[:1] not in ("}", "]"):
                out.append(ch)
            i += 1
        else:
            word = re.match(r"True|False|None", text[i:])
            if word and not (out and out[-1][-1:].isalnum()):
                out.append({"True": "true", "False": "false", "None": "null"}[word.group()])
                i += len(word.group())
            else:
                out.append(ch)
                i += 1
    return "".join(out)


def _as_messages(messages: Any) -> list[BaseMessage]:
    if isinstance(messages, (str, BaseMessage)):
        messages = [messages]
    if hasattr(messages, "to_messages"):  # PromptValue
        return list(messages.to_messages())
    return convert_to_messages(messages)


def _corrective_note(schema: type[BaseModel], error: str) -> str:
    fields = ", ".join(
        f"{name} ({_type_name(field.annotation)})" for name, field in schema.model_fields.items()
    )
    return (
        f"Your previous reply could not be used ({error}). Call the `{schema.__name__}` "
        f"function exactly once. Its arguments must be one JSON object with these fields: "
        f"{fields}. No prose, no code fences."
    )


def _type_name(annotation: Any) -> str:
    base = _base_type(annotation)
    return getattr(base, "__name__", None) or str(annotation).replace("typing.", "")


def _short(error: Any) -> str | None:
    if error is None:
        return None
    if isinstance(error, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors()]
        text = "; ".join(parts)
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:_MAX_ERROR_CHARS]
