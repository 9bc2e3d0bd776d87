"""The error body every API route answers with, documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    error: str
    message: str
    detail: dict[str, Any] | None = None


def _doc(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("The body is not valid JSON"),
    401: _doc("No token, or an unknown or revoked one"),
    403: _doc("The token's role does not allow this"),
    404: _doc("No such object"),
    409: _doc("The object's state forbids the change"),
    422: _doc("The request is not valid"),
}
