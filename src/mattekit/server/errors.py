"""The API's errors: every one is JSON ``{"error": "<one sentence>"}`` with its status (see ``app``).

Example:
    >>> error(409, "instance 0 has no round to undo.").body
    b'{"error":"instance 0 has no round to undo."}'
"""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mattekit.errors import InputError, MattekitError
from mattekit.server.pool import Busy
from mattekit.server.sessions import UnknownSession

log = logging.getLogger("mattekit.server")


class Conflict(Exception):
    """A request the session's state cannot answer (nothing to undo, no matte yet): 409."""


def error(status: int, sentence: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


def add_error_handlers(app) -> None:
    """Answer each kind of error with its status and sentence: 400 InputError, 422 other user errors and
    invalid requests, 404 UnknownSession, 409 Conflict, 503 Busy (with Retry-After), 500 anything else."""

    @app.exception_handler(MattekitError)
    async def input_error(request, e: MattekitError):
        return error(400 if isinstance(e, InputError) else 422, str(e))

    @app.exception_handler(UnknownSession)
    async def unknown_session(request, e: UnknownSession):
        return error(404, str(e))

    @app.exception_handler(Conflict)
    async def conflict(request, e: Conflict):
        return error(409, str(e))

    @app.exception_handler(Busy)
    async def busy(request, e: Busy):
        return error(503, str(e), {"Retry-After": str(e.retry_after)})

    @app.exception_handler(HTTPException)
    async def http_error(request, e: HTTPException):
        sentence = e.detail if e.status_code == 413 else f"{request.method} {request.url.path}: {e.detail.lower()}."
        return error(e.status_code, sentence, getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        first = e.errors()[0]
        if first["type"] == "json_invalid":
            return error(422, f"the request body is not valid JSON ({first['ctx']['error']}).")
        where = ".".join(str(part) for part in first["loc"][1:]) or first["loc"][0]
        message = first["msg"][:1].lower() + first["msg"][1:]
        return error(422, f"the request's {where} is not valid: {message}.")

    @app.exception_handler(Exception)
    async def failed(request, e: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return error(500, f"the server failed on {request.method} {request.url.path} ({type(e).__name__}); "
                          "its log has the details.")
