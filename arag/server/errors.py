"""Errors in OpenAI's format, ``{"error": {"message", "type", "code"}}``, so SDKs show them."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An error the client should see, with its HTTP status and OpenAI error type/code."""

    def __init__(self, status: int, message: str, type_: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code

    def body(self) -> dict:
        """The JSON error object."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}

    def response(self) -> JSONResponse:
        """The error as an HTTP response."""
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def invalid_request(message: str, code: str = "invalid_request") -> ApiError:
    """400: the request is malformed."""
    return ApiError(400, message, "invalid_request_error", code)


def unauthorized(message: str) -> ApiError:
    """401: no or unknown API key."""
    return ApiError(401, message, "authentication_error", "invalid_api_key")


def not_found(message: str) -> ApiError:
    """404: also what another key's thread looks like, so its existence is not revealed."""
    return ApiError(404, message, "not_found_error", "not_found")
