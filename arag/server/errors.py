"""Errors in OpenAI's format, ``{"error": {"message", "type", "param", "code"}}``, so SDKs show
them.
"""  # noqa: D205

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class ApiError(Exception):
    """An error the client should see, with its HTTP status and OpenAI error type/code."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers: dict[str, str] = {}

    def with_headers(self, headers: dict[str, str]) -> ApiError:
        """The error with extra response headers (``Allow`` on a 405)."""
        self.headers = {**self.headers, **headers}
        return self

    def body(self) -> dict:
        """The JSON error object."""
        error = {"message": self.message, "type": self.type, "param": self.param}
        return {"error": error | {"code": self.code}}

    def response(self) -> JSONResponse:
        """The error as an HTTP response."""
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        return JSONResponse(self.body(), status_code=self.status, headers=headers | self.headers)


def invalid_request(
    message: str, code: str = "invalid_request", param: str | None = None
) -> ApiError:
    """400: the request is malformed (``param`` names the field, where there is one)."""
    return ApiError(400, message, "invalid_request_error", code, param)


def unauthorized(message: str) -> ApiError:
    """401: no or unknown API key."""
    return ApiError(401, message, "authentication_error", "invalid_api_key")


def not_found(message: str, code: str = "not_found", param: str | None = None) -> ApiError:
    """404: also what another key's thread looks like, so its existence is not revealed."""
    return ApiError(404, message, "not_found_error", code, param)


def http_error(status: int, detail: str, headers: dict[str, str] | None = None) -> ApiError:
    """An HTTP error of the framework's (unknown route, wrong method, ...) in OpenAI's format."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    code = {404: "unknown_route", 405: "method_not_allowed"}.get(status, "invalid_request")
    if status == 404:
        kind = "not_found_error"
    return ApiError(status, detail, kind, code)


async def openai_http_errors(request: Request, exc: Exception) -> JSONResponse:
    """App-wide handler for ``HTTPException`` (``arag serve``: every route speaks OpenAI)."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else "HTTP error"
    if exc.status_code == 404:
        detail = f"No route {request.method} {request.url.path}."
    response = http_error(exc.status_code, detail).response()
    response.headers.update(exc.headers or {})
    return response
