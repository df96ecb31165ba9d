"""The HTTP API of ``mattekit serve`` through FastAPI's test client, on the real interactive engine and a real
photo from ../shared/data: every endpoint, every error code, eviction, undo and two instances."""

from __future__ import annotations

import asyncio
import base64
import io
import threading

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mattekit.engines import load_engine
from mattekit.interactive.prompts import Click, rasterise
from mattekit.server import Settings, create_app

PHOTO = "portraits-pseudo/image/p_818e689d.jpg"  # a singer on a blue stage, 1728x1080
BOX = {"type": "box", "x0": 55, "y0": 10, "x1": 150, "y1": 134}  # around him in the photo reduced 8 times
NEGATIVE = {"type": "click", "x": 82, "y": 46, "positive": False}  # the microphone in his hand


@pytest.fixture(scope="module")
def engine():
    return load_engine("interactive")


@pytest.fixture(scope="module")
def photo(shared_data) -> bytes:
    """The photo reduced 8 times (216x135) as PNG bytes."""
    buffer = io.BytesIO()
    Image.open(shared_data / PHOTO).convert("RGB").reduce(8).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(engine)) as client:
        yield client


def png(response) -> np.ndarray:
    assert response.headers["content-type"] == "image/png", response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def encoded(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def start(client, photo) -> str:
    response = client.post("/v1/sessions", files={"image": ("singer.png", photo, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_page_static_files_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/page.js" in page.text
    assert client.get("/static/page.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/matte", "/v1/sessions", "/v1/sessions/{key}/rounds", "/v1/sessions/{key}/undo",
            "/v1/sessions/{key}/result", "/v1/sessions/{key}"} <= set(paths)
    assert client.get("/nowhere").json() == {"error": "GET /nowhere: not found."}


def test_rounds_results_undo_two_instances_and_delete(client, photo, monkeypatch):
    created = client.post("/v1/sessions", files={"image": ("singer.png", photo, "image/png")})
    assert created.status_code == 201 and created.json()["width"] == 216 and created.json()["height"] == 135
    key = created.json()["id"]
    rounds = f"/v1/sessions/{key}/rounds"

    first = client.post(rounds, json={"prompts": [BOX]})
    assert first.headers["x-rounds"] == "1" and float(first.headers["x-round-seconds"]) > 0
    first_alpha = png(first)
    assert first_alpha.shape == (135, 216) and first_alpha.dtype == np.uint8

    second = client.post(rounds, json={"prompts": [NEGATIVE], "instance": 0}, headers={"accept": "application/json"})
    body = second.json()
    assert body["instance"] == 0 and body["rounds"] == 2 and body["seconds"] > 0
    second_alpha = png(httpx.Response(200, headers={"content-type": "image/png"},
                                      content=base64.b64decode(body["alpha"])))
    conflict = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["conflict"]))))
    # The conflict map of a negative click: 2 where the first round said foreground under the click, else 0.
    disk = rasterise(Click(NEGATIVE["x"], NEGATIVE["y"], positive=False), conflict.shape)
    assert conflict.max() == 2 and np.array_equal(conflict, np.where(disk & (first_alpha >= 128), 2, 0))
    assert second_alpha[NEGATIVE["y"], NEGATIVE["x"]] < 128

    result = f"/v1/sessions/{key}/result"
    assert np.array_equal(png(client.get(result)), second_alpha)
    assert np.array_equal(png(client.get(result, params={"output": "conflict"})), conflict)
    cutout = png(client.get(result, params={"instance": 0, "output": "cutout"}))
    assert cutout.shape == (135, 216, 4) and np.array_equal(cutout[..., 3], second_alpha)
    composite = png(client.get(result, params={"output": "composite", "background": "#00ff00"}))
    assert composite[second_alpha == 0].tolist() == [[0, 255, 0]] * int((second_alpha == 0).sum())

    other = png(client.post(rounds, json={"prompts": [{"type": "box", "x0": 0, "y0": 0, "x1": 50, "y1": 60}],
                                          "instance": 1}))
    assert np.array_equal(png(client.get(result, params={"instance": 1})), other)
    assert np.array_equal(png(client.get(result, params={"instance": 0})), second_alpha)
    assert other[80:, 80:].max() == 0  # the second instance's box says nothing of the first's place
    monkeypatch.setattr("mattekit.server.app.MAX_ROUNDS", 3)  # this session holds 3 rounds now
    full = client.post(rounds, json={"prompts": [BOX], "instance": 2})
    assert full.status_code == 409 and full.json()["error"].startswith("this session holds 3 rounds, the most")

    undone = client.post(f"/v1/sessions/{key}/undo")
    assert undone.headers["x-rounds"] == "1" and np.array_equal(png(undone), first_alpha)
    assert np.array_equal(png(client.get(result)), first_alpha)
    emptied = client.post(f"/v1/sessions/{key}/undo", params={"instance": 0}, headers={"accept": "application/json"})
    assert emptied.json() == {"instance": 0, "rounds": 0, "seconds": None, "alpha": None, "conflict": None}
    assert client.post(f"/v1/sessions/{key}/undo", params={"instance": 1}).status_code == 204
    nothing = client.post(f"/v1/sessions/{key}/undo")
    assert nothing.status_code == 409 and nothing.json() == {"error": "instance 0 has no round to undo."}
    assert client.get(result).json() == {"error": "instance 0 has no matte yet; run a round for it first."}

    assert client.delete(f"/v1/sessions/{key}").status_code == 204
    gone = client.get(result)
    assert gone.status_code == 404 and gone.json()["error"].startswith(f"session '{key}' does not exist or has")
    assert client.delete(f"/v1/sessions/{key}").status_code == 404


def test_one_shot_matte_with_and_without_trimap(client, photo):
    automatic = png(client.post("/v1/matte", files={"image": ("singer.png", photo, "image/png")}))
    assert automatic.shape == (135, 216)
    trimap = np.full((135, 216), 128, np.uint8)
    trimap[:, :40], trimap[40:, 100:120] = 0, 255
    files = {"image": ("singer.png", photo, "image/png"), "trimap": ("trimap.png", encoded(trimap), "image/png")}
    cutout = png(client.post("/v1/matte", files=files, data={"output": "cutout"}))
    assert cutout.shape == (135, 216, 4)
    assert cutout[..., 3][trimap == 0].max() == 0 and cutout[..., 3][trimap == 255].min() == 255
    composite = png(client.post("/v1/matte", files=files, data={"output": "composite", "background": "0,0,255"}))
    assert composite.shape == (135, 216, 3) and (composite[:, :40] == [0, 0, 255]).all()
    wrong = client.post("/v1/matte", files={"image": ("singer.png", photo, "image/png"),
                                            "trimap": ("trimap.png", encoded(trimap[:50]), "image/png")})
    assert wrong.status_code == 400
    assert wrong.json()["error"].startswith("the uploaded trimap is 216x50 but its image is 216x135;")


def test_bad_uploads_are_400_naming_the_problem(engine, photo):
    with TestClient(create_app(engine, Settings(max_pixels=20_000))) as client:
        garbage = client.post("/v1/sessions", files={"image": ("x.png", b"<html>not a picture</html>", "image/png")})
        assert garbage.status_code == 400
        assert garbage.json() == {"error": "the uploaded image is not an image that can be read "
                                           "(PNG, JPEG, TIFF, BMP, WebP)."}
        huge = client.post("/v1/sessions", files={"image": ("singer.png", photo, "image/png")})
        assert huge.status_code == 400 and huge.json()["error"].startswith(
            "the uploaded image has 216x135 = 0.0 megapixels, over the limit of 0.02;")
        empty = client.post("/v1/matte", files={"image": ("x.png", b"", "image/png")})
        assert empty.json() == {"error": "the uploaded image is empty (0 bytes)."}
        colour = client.post("/v1/matte", files={"image": ("x.png", photo, "image/png")},
                             data={"output": "composite", "background": "/etc/passwd"})
        assert colour.status_code == 400
        assert colour.json() == {"error": "background '/etc/passwd' is not a colour (a name, #rrggbb or r,g,b)."}
        missing = client.post("/v1/sessions")
        assert missing.status_code == 422 and missing.json() == {"error": "the request's image is not valid: "
                                                                          "field required."}


def test_bodies_over_the_upload_limit_are_413(engine):
    with TestClient(create_app(engine, Settings(max_upload_mb=0.25))) as client:
        sentence = {"error": "the request body is over the upload limit of 0.25 MB (--max-upload-mb)."}
        declared = client.post("/v1/sessions", files={"image": ("x.png", b"\0" * 300_000, "image/png")})
        assert declared.status_code == 413 and declared.json() == sentence
        chunks = iter([b"\0" * 100_000] * 4)  # no Content-Length: counted as it streams
        streamed = client.post("/v1/sessions", content=chunks, headers={"content-type": "multipart/form-data; "
                                                                                        "boundary=x"})
        assert streamed.status_code == 413 and streamed.json() == sentence
        assert client.post("/v1/sessions", content=b"", headers={"content-length": "ten"}).status_code == 400


def test_bad_prompts_are_422_naming_round_and_prompt(client, photo):
    key = start(client, photo)
    rounds = f"/v1/sessions/{key}/rounds"
    cases = [
        ({"prompts": [BOX, {"type": "click", "x": 3}]}, "round 1, prompt 2: a click prompt needs 'y'."),
        ({"prompts": [{"type": "click", "x": 300, "y": 3}]},
         "round 1, prompt 1: a positive click has the point (300, 3) outside the 216x135 image "
         "(x in 0..215, y in 0..134)."),
        ({"prompts": [{"type": "lasso"}]}, "round 1, prompt 1: a prompt's 'type' must be one of click, scribble, "
                                           "box, text, not 'lasso'."),
        ({"prompts": []}, "round 1 must be a non-empty list of prompt objects."),
        ({"prompts": [BOX], "instance": -1}, "the request's instance is not valid: input should be greater than "
                                             "or equal to 0."),
        ({"prompts": [BOX], "instance": "one"}, "the request's instance is not valid: input should be a valid "
                                                "integer."),
        ({"instance": 0}, "the request's prompts is not valid: field required."),
    ]
    for body, sentence in cases:
        response = client.post(rounds, json=body)
        assert (response.status_code, response.json()) == (422, {"error": sentence})
    broken = client.post(rounds, content=b"{prompts", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["error"].startswith("the request body is not valid JSON")
    assert client.get(f"/v1/sessions/{key}/result", params={"output": "mask"}).status_code == 422


def test_sessions_are_evicted_oldest_first_and_after_their_ttl(engine, photo):
    now = [0.0]
    with TestClient(create_app(engine, Settings(max_sessions=2, session_ttl=60), clock=lambda: now[0])) as client:
        first, second = start(client, photo), start(client, photo)
        alive = f"/v1/sessions/{first}/result"
        assert client.get(alive).status_code == 409  # known, no matte yet; and now used more recently than second
        third = start(client, photo)
        assert client.get(f"/v1/sessions/{second}/result").status_code == 404
        assert [client.get(f"/v1/sessions/{k}/result").status_code for k in (first, third)] == [409, 409]
        now[0] = 59.0
        assert client.get(f"/v1/sessions/{third}/result").status_code == 409
        now[0] = 100.0  # first was last used at 0, third at 59
        assert client.get(alive).status_code == 404
        assert client.get(f"/v1/sessions/{third}/result").status_code == 409
        now[0] = 200.0
        expired = client.get(f"/v1/sessions/{third}/result")
        assert expired.status_code == 404 and "sessions last 60 s after their last use" in expired.json()["error"]


def test_work_past_the_queue_is_503_with_retry_after_then_served(engine, photo):
    app = create_app(engine, Settings(workers=1, max_queue=1))
    pool = app.app.state.pool

    async def scenario():
        gate = threading.Event()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            upload = {"image": ("singer.png", photo, "image/png")}
            blocker = asyncio.create_task(pool.run(gate.wait))  # holds the one worker
            await asyncio.sleep(0.05)
            queued = asyncio.create_task(client.post("/v1/sessions", files=upload))
            await asyncio.sleep(0.05)
            refused = await client.post("/v1/sessions", files=upload)
            gate.set()
            await blocker
            retried = await client.post("/v1/sessions", files=upload)
            return refused, await queued, retried

    refused, queued, retried = asyncio.run(scenario())
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"].startswith("the server is busy (")
    assert queued.status_code == 201 and retried.status_code == 201


def test_serve_refuses_limits_that_are_not_positive(capsys):
    from mattekit.cli import main

    assert main(["serve", "--workers", "0"]) == 2
    assert capsys.readouterr().err == "mattekit: --workers must be positive, not 0.\n"
    assert main(["serve", "--max-queue", "-1"]) == 2
    assert capsys.readouterr().err == "mattekit: --max-queue must be 0 or more, not -1.\n"
