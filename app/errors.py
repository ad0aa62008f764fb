"""Every error as JSON ``{"detail": "<one clear sentence>"}`` with the right status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.preprocess import (
    BlankImageError,
    ImageTooLargeError,
    InvalidImageError,
    PreprocessError,
    UnsupportedImageError,
)

from .registry import NotFoundError
from .security import API_HEADERS

PREPROCESS_STATUS = (
    (BlankImageError, 422),
    (ImageTooLargeError, 413),
    (UnsupportedImageError, 415),
    (InvalidImageError, 400),
)
_WHOLE_BODY_TYPES = {"model_attributes_type", "dict_type", "model_type"}
# Echoed request values (a path, a field name) are cut, so no answer repeats a long input.
MAX_ECHO = 100
MAX_DETAIL = 1000


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": shorten(detail, MAX_DETAIL)}, status_code=status,
                        headers=headers)


def _message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe_validation_errors(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """pydantic/FastAPI errors → (status, one readable sentence). Unparsable JSON is a 400."""
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "syntax error")
            loc = error.get("loc", ())
            where = f" at character {loc[-1]}" if len(loc) > 1 else ""
            return 400, f"the request body is not valid JSON ({reason}{where})"
    parts: list[str] = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        where, path = (loc[0], loc[1:]) if loc else ("body", [])
        kind = error.get("type")
        if where == "body" and not path and kind == "missing":
            text = "the request body is missing: send a JSON object"
        elif where == "body" and not path and kind in _WHOLE_BODY_TYPES:
            text = "the request body must be a JSON object"
        elif kind == "extra_forbidden":
            text = f"unexpected field {'.'.join(path)!r}"
        elif kind == "missing":
            text = f"{where} parameter {'.'.join(path)!r} is required"
        else:
            label = ".".join(path)
            text = _message(error)
            if label and not text.startswith(label.split(".")[0]):
                text = f"{label}: {text}"
        if text not in parts:
            parts.append(text)
    return 422, "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        path = shorten(request.url.path, MAX_ECHO)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such page or endpoint: {path} (the API is listed at /docs)"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = (f"method {shorten(request.method, MAX_ECHO)} is not allowed on {path}"
                      + (f"; allowed: {allowed}" if allowed else ""))
        return _error(exc.status_code, str(detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers this outside every middleware, so the security headers come here.
        headers = {name.decode(): value.decode() for name, value in API_HEADERS}
        return _error(500, "internal server error; the server log has the details", headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = describe_validation_errors(list(exc.errors()))
        return _error(status, detail)

    @app.exception_handler(PreprocessError)
    async def preprocess_error(request: Request, exc: PreprocessError) -> JSONResponse:
        status = next((code for cls, code in PREPROCESS_STATUS if isinstance(exc, cls)), 400)
        return _error(status, str(exc))

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, str(exc))
