"""``mattekit serve`` as a person meets it: a real server on a loopback port, the page in Debian's Chromium.

A photo from ../shared/data is opened in the page, a box is drawn and run, a negative click is added and run; the
prompts the page sent must be the image pixels under the pointer, its overlay and downloaded alpha must be what
the API returns, and undo must bring the first round's alpha back. ``MATTEKIT_SCREENSHOT=1`` also writes the
screenshot to docs/server-page.png (the README's picture).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
PHOTO = "portraits-pseudo/image/p_818e689d.jpg"  # a singer on a blue stage, 1728x1080
BOX = (110, 20, 300, 269)  # around the singer in the photo reduced 4 times (432x270)
NEGATIVE_CLICK = (60, 60)  # on the stage behind him
SCREENSHOT = Path(__file__).parents[1] / "docs" / "server-page.png"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``mattekit serve`` on a free loopback port (its upload limit 1 MB), until the module's tests are done."""
    port = free_port()
    command = [sys.executable, "-m", "mattekit", "serve", "--port", str(port), "--workers", "2",
               "--max-upload-mb", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"mattekit serve did not start: {process.communicate()[0][-2000:]}")
            time.sleep(0.5)
    yield url, port
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not at {CHROMIUM} (.ci/run installs it with apt-get when it can)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_oversized_upload_is_refused_before_it_is_sent_whole(server):
    _, port = server
    declared = 50 * 2**20  # 50 MB declared, 64 KB sent: the answer must come without the rest
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                           f"Content-Length: {declared}\r\n\r\n".encode() + b"\0" * 65536)
        answer = b""
        while chunk := connection.recv(65536):  # the server closes the connection after its answer
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413")
    assert answer.endswith('{"error": "the request body is over the upload limit of 1 MB (--max-upload-mb)."}')


def test_page_mattes_a_photo_with_a_box_and_a_negative_click(server, browser, shared_data, tmp_path):
    url, _ = server
    photo = Image.open(shared_data / PHOTO).convert("RGB").reduce(4)
    photo.save(tmp_path / "singer.png")
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json["prompts"]) if r.url.endswith("/rounds") else None)
    page.goto(url + "/")
    page.set_input_files("#file", str(tmp_path / "singer.png"))
    page.wait_for_selector("#canvas:not([hidden])")
    rect = page.locator("#canvas").bounding_box()
    assert rect["width"] > photo.width  # shown enlarged here; prompts must still land on image pixels

    def screen(x, y, shown=None):  # the middle of image pixel (x, y) on the screen
        shown = shown or rect
        return (shown["x"] + (x + 0.5) * shown["width"] / photo.width,
                shown["y"] + (y + 0.5) * shown["height"] / photo.height)

    page.keyboard.press("5")  # the box tool
    page.mouse.move(*screen(*BOX[:2]))
    page.mouse.down()
    page.mouse.move(*screen(200, 150), steps=4)
    page.mouse.move(*screen(*BOX[2:]), steps=4)
    page.mouse.up()
    page.keyboard.press("r")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Round 1 of')", timeout=60000)
    first = np.array(page.evaluate("window.mattekit.alpha(0)"), np.uint8).reshape(photo.height, photo.width)
    page.keyboard.press("2")  # the negative click tool
    page.mouse.click(*screen(*NEGATIVE_CLICK))
    page.click("#run")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Round 2 of')", timeout=60000)

    assert sent == [[{"type": "box", "x0": BOX[0], "y0": BOX[1], "x1": BOX[2], "y1": BOX[3]}],
                    [{"type": "click", "x": NEGATIVE_CLICK[0], "y": NEGATIVE_CLICK[1], "positive": False}]]
    session = page.evaluate("window.mattekit.state.session")
    from_api = decode(page.request.get(f"{url}/v1/sessions/{session}/result?instance=0&output=alpha").body())
    shown = np.array(page.evaluate("window.mattekit.alpha(0)"), np.uint8).reshape(from_api.shape)
    assert np.array_equal(shown, from_api)
    assert from_api[NEGATIVE_CLICK[1], NEGATIVE_CLICK[0]] < 128 <= from_api[150, 200]  # off and on the singer

    # The overlay: the photo under the instance's colour at 0.6 of its alpha, away from the drawn prompts.
    overlay = decode(base64.b64decode(page.evaluate("document.getElementById('canvas').toDataURL()").split(",")[1]))
    colour = np.array([0xFF, 0x3B, 0x6B], np.float64)
    weight = np.round(from_api * 0.6)[..., None] / 255
    expected = weight * colour + (1 - weight) * np.asarray(photo, np.float64)
    away = np.ones(from_api.shape, bool)
    away[BOX[1] - 4:BOX[3] + 5, BOX[0] - 4:BOX[0] + 5] = away[BOX[1] - 4:BOX[3] + 5, BOX[2] - 4:BOX[2] + 5] = False
    away[BOX[1] - 4:BOX[1] + 5, BOX[0] - 4:BOX[2] + 5] = away[BOX[3] - 4:BOX[3] + 5, BOX[0] - 4:BOX[2] + 5] = False
    away[NEGATIVE_CLICK[1] - 8:NEGATIVE_CLICK[1] + 9, NEGATIVE_CLICK[0] - 8:NEGATIVE_CLICK[0] + 9] = False
    assert np.abs(overlay[..., :3][away] - expected[away]).max() <= 3

    with page.expect_download() as download:
        page.click("#download-alpha")
    assert np.array_equal(decode(Path(download.value.path()).read_bytes()), from_api)
    page.screenshot(path=str(tmp_path / "server-page.png"))
    if os.environ.get("MATTEKIT_SCREENSHOT"):
        shutil.copyfile(tmp_path / "server-page.png", SCREENSHOT)

    page.keyboard.press("u")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Undone')")
    assert np.array_equal(np.array(page.evaluate("window.mattekit.alpha(0)"), np.uint8).reshape(first.shape), first)
    assert np.array_equal(decode(page.request.get(f"{url}/v1/sessions/{session}/result").body()), first)

    # A small window shows the photo shrunk; a box drawn there still lands on the same image pixels.
    page.set_viewport_size({"width": 560, "height": 420})
    small = page.locator("#canvas").bounding_box()
    assert small["width"] < photo.width
    page.keyboard.press("5")
    page.mouse.move(*screen(11, 7, small))
    page.mouse.down()
    page.mouse.move(*screen(401, 263, small), steps=3)
    page.mouse.up()
    pending = page.evaluate("window.mattekit.state.instances[0].pending")
    assert pending == [{"type": "box", "x0": 11, "y0": 7, "x1": 401, "y1": 263}]
    page.close()
