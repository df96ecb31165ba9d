"""The upload limit: a request body over ``max_bytes`` is refused with 413 before it is read whole.

A declared ``Content-Length`` over the limit is refused at once, before a byte of the body is read; a body without
one (chunked) is counted as it streams in and refused as soon as the count passes the limit, so the server never
holds more than the limit of one request.

Example:
    >>> from fastapi import FastAPI
    >>> app = BodyLimit(FastAPI(), max_bytes=25 * 2**20)
"""

from __future__ import annotations

import json

from fastapi import HTTPException


class TooLarge(HTTPException):
    """A body over the limit, found while it streams in (an HTTPException so FastAPI's form parsing passes it on)."""

    def __init__(self, max_bytes: int):
        super().__init__(413, too_large_sentence(max_bytes))


def too_large_sentence(max_bytes: int) -> str:
    return f"the request body is over the upload limit of {max_bytes / 2**20:g} MB (--max-upload-mb)."


class BodyLimit:
    """ASGI middleware around ``app`` enforcing the upload limit (see the module docstring)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _refuse(send, 400, "the Content-Length header is not a whole number.")
            if int(declared) > self.max_bytes:
                return await _refuse(send, 413, too_large_sentence(self.max_bytes))
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        await self.app(scope, counted_receive, send)


async def _refuse(send, status: int, sentence: str) -> None:
    body = json.dumps({"error": sentence}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
