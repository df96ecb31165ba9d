"""The HTTP API and the page: requests translated into ``mattekit.interactive.Session`` calls, nothing more.

Every error is JSON ``{"error": "<one sentence>"}``: 400 an upload that is not an image or has too many pixels,
404 an unknown or expired session, 409 an undo or a result with no round to show, 413 a body over the upload
limit, 422 a request or prompt that is not valid (naming the round and the prompt), 503 a full queue (with
``Retry-After``). Matting, decoding and encoding run on the worker pool (``mattekit.server.pool``), never on the
event loop. ``docs/server.md`` documents each endpoint with a curl example.

Example:
    >>> from fastapi.testclient import TestClient                         # doctest: +SKIP
    >>> from mattekit.engines import load_engine                          # doctest: +SKIP
    >>> client = TestClient(create_app(load_engine("interactive")))       # doctest: +SKIP
    >>> client.post("/v1/sessions", files={"image": open("photo.jpg", "rb")}).json()   # doctest: +SKIP
    {'id': 'Qm2xA1bVn0cT9fLk', 'width': 640, 'height': 480}
"""

from __future__ import annotations

import base64
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import Body, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StrictInt

from mattekit.errors import UsageError
from mattekit.interactive import Session
from mattekit.interactive.prompts import parse_rounds
from mattekit.io import decode_image, decode_trimap
from mattekit.server.errors import Conflict, add_error_handlers
from mattekit.server.limits import BodyLimit
from mattekit.server.outputs import background_colour, png, render
from mattekit.server.pool import WorkPool
from mattekit.server.sessions import SessionStore

STATIC = Path(__file__).parent / "static"
MAX_INSTANCES = 16  # instances per session
MAX_ROUNDS = 24  # rounds per session, all instances together: each keeps a matte for undo


@dataclass
class Settings:
    """The limits of ``mattekit serve`` (its flags of the same names)."""

    max_upload_mb: float = 25
    max_pixels: int = 25_000_000
    max_sessions: int = 32
    session_ttl: float = 900
    workers: int = 2
    max_queue: int = 16


class RoundRequest(BaseModel):
    """One round: the prompt objects of ``mattekit.interactive.prompts.from_dict`` and the instance they are for."""

    prompts: list[Any] = Field(description='e.g. [{"type": "box", "x0": 5, "y0": 5, "x1": 90, "y1": 120}]')
    instance: StrictInt = Field(0, ge=0, lt=MAX_INSTANCES)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def create_app(engine, settings: Settings | None = None, clock=time.monotonic):
    """The ASGI app serving ``engine`` (built once, shared by every session) within ``settings``' limits."""
    settings = settings or Settings()
    store = SessionStore(settings.max_sessions, settings.session_ttl, clock)
    pool = WorkPool(settings.workers, settings.max_queue)

    @asynccontextmanager
    async def lifespan(app):
        yield
        pool.close()

    app = FastAPI(title="mattekit", version="1", summary="Interactive and one-shot image matting.", lifespan=lifespan)
    app.state.store, app.state.pool, app.state.settings = store, pool, settings

    add_error_handlers(app)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.post("/v1/matte", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def matte(image: UploadFile = File(...), trimap: UploadFile | None = File(None),
                    output: Literal["alpha", "cutout", "composite"] = Form("alpha"), background: str = Form("white")):
        """One-shot matting of ``image`` (automatic, or from ``trimap``: 0 background, 128 unknown, 255
        foreground) with the server's engine; the PNG of ``output``."""
        background_colour(background)
        image_bytes, trimap_bytes = await image.read(), (await trimap.read() if trimap else None)

        def work():
            photo = decode_image(image_bytes, "the uploaded image", settings.max_pixels)
            known = decode_trimap(trimap_bytes, "the uploaded trimap", photo.shape[:2]) if trimap else None
            return render(engine.predict(photo, known), output, background)

        return Response(await pool.run(work), media_type="image/png")

    @app.post("/v1/sessions", status_code=201)
    async def new_session(image: UploadFile = File(...)):
        """A session on ``image``: ``{id, width, height}``; the id names it in the other calls."""
        data = await image.read()

        def work():
            return Session(decode_image(data, "the uploaded image", settings.max_pixels), engine)

        session = await pool.run(work)
        height, width = session.shape
        return {"id": store.add(session), "width": width, "height": height}

    @app.post("/v1/sessions/{key}/rounds", response_class=Response,
              responses={200: {"content": {"image/png": {}, "application/json": {}}}})
    async def run_round(key: str, request: Request, given: RoundRequest = Body(...)):
        """One round of prompts for an instance: the alpha PNG (the conflict map is the result with
        ``output=conflict``), or with ``accept: application/json`` both as base64 PNG with the round's seconds."""
        entry = store.get(key)
        async with entry.lock:
            session = entry.session
            number = len(session.rounds(given.instance)) + 1
            if sum(len(session.rounds(k)) for k in range(MAX_INSTANCES)) >= MAX_ROUNDS:
                raise Conflict(f"this session holds {MAX_ROUNDS} rounds, the most it keeps; undo some or start "
                               "a new session.")
            try:
                prompts = parse_rounds([given.prompts])[0]
            except UsageError as e:
                raise UsageError(f"round {number}{str(e).removeprefix('round 1')}") from None

            def work():
                start = time.perf_counter()
                try:
                    result = session.round(prompts, given.instance)
                except UsageError as e:
                    raise UsageError(f"round {number}, {e}") from None
                return result, time.perf_counter() - start

            result, seconds = await pool.run(work)
        return await _answer(request, session, given.instance, seconds)

    @app.post("/v1/sessions/{key}/undo", response_class=Response,
              responses={200: {"content": {"image/png": {}, "application/json": {}}}, 204: {}})
    async def undo(key: str, request: Request, instance: int = Query(0, ge=0, lt=MAX_INSTANCES)):
        """Drop the instance's last round; answers as a round does with the matte now current (204 or nulls
        when no round is left)."""
        entry = store.get(key)
        async with entry.lock:
            if not entry.session.rounds(instance):
                raise Conflict(f"instance {instance} has no round to undo.")
            entry.session.undo(instance)
        return await _answer(request, entry.session, instance, None)

    @app.get("/v1/sessions/{key}/result", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def result(key: str, instance: int = Query(0, ge=0, lt=MAX_INSTANCES),
                     output: Literal["alpha", "cutout", "composite", "conflict"] = "alpha",
                     background: str = "white"):
        """The instance's current matte as the PNG of ``output``; ``conflict`` is its last round's conflict map
        (values 0, 1, 2)."""
        entry = store.get(key)
        background_colour(background)
        rounds = entry.session.rounds(instance)
        if not rounds:
            raise Conflict(f"instance {instance} has no matte yet; run a round for it first.")
        if output == "conflict":
            return Response(await pool.run(png, rounds[-1].conflict), media_type="image/png")
        return Response(await pool.run(render, rounds[-1].matte, output, background), media_type="image/png")

    @app.delete("/v1/sessions/{key}", status_code=204, response_class=Response)
    async def delete(key: str):
        """Forget the session and its image."""
        store.delete(key)

    async def _answer(request: Request, session: Session, instance: int, seconds: float | None) -> Response:
        rounds = session.rounds(instance)
        count = {"X-Rounds": str(len(rounds))} | ({"X-Round-Seconds": f"{seconds:.3f}"} if seconds else {})
        encoded = await pool.run(_encode, rounds[-1]) if rounds else None
        if wants_json(request):
            alpha, conflict_map = encoded or (None, None)
            return JSONResponse({"instance": instance, "rounds": len(rounds), "seconds": seconds,
                                 "alpha": alpha and base64.b64encode(alpha).decode(),
                                 "conflict": conflict_map and base64.b64encode(conflict_map).decode()})
        if encoded is None:
            return Response(status_code=204, headers=count)
        return Response(encoded[0], media_type="image/png", headers=count)

    return BodyLimit(app, int(settings.max_upload_mb * 2**20))


def _encode(last_round) -> tuple[bytes, bytes]:
    return render(last_round.matte, "alpha", "white"), png(last_round.conflict)
