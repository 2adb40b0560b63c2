"""TMF Error (every 4xx/5xx body)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Error(BaseModel):
    code: str = Field(description="Application error code, e.g. the HTTP status as text")
    reason: str = Field(description="Short explanation, e.g. 'Bad Request'")
    message: str | None = Field(default=None, description="Details: what was wrong and where")
    status: str | None = Field(default=None, description="HTTP status code")
    referenceError: str | None = None
