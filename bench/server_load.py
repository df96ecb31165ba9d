"""Load test of ``mattekit serve`` on loopback: concurrent clients, oversized uploads and garbage bodies.

Starts ``mattekit serve`` on a free 127.0.0.1 port (nothing else is contacted), then
1. ``--clients`` clients at once, each uploading a photo from ``portraits-pseudo`` cropped and scaled to
   ``--height`` p (16:9) and running 3 rounds (a box, a negative click, a positive click); a 503 must
   carry ``Retry-After``, and the client waits that long and retries; a 404 (its session evicted past the cap)
   makes it start again with a new upload, counted apart;
2. ``--oversized`` uploads declaring twice the upload limit but sending 64 KB: the 413 must come back without
   the rest being sent;
3. ``--garbage`` bodies of random bytes (as an image, as a multipart body, as a round's JSON): each must be a 4xx.
It reports throughput, round latencies (p50/p95, served attempt and with the waits), failures and the server's
peak resident memory (VmHWM) and CPU time. Everything is bounded: ``--deadline`` seconds for the clients.

Run: .venv/bin/python bench/server_load.py [--clients 50] [--height 1080] [--max-sessions 32]
     [--workers 2] [--max-queue 16] [--oversized 5] [--garbage 12] [--deadline 900] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageOps

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_RESTARTS = 3


def photos(data: Path, height: int) -> list[bytes]:
    """The portraits as JPEG bytes, centre-cropped to 16:9 and scaled to ``height`` rows."""
    size = (round(height * 16 / 9), height)
    out = []
    for path in sorted((data / "portraits-pseudo" / "image").glob("*.jpg")):
        buffer = io.BytesIO()
        ImageOps.fit(Image.open(path).convert("RGB"), size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def prompts(width: int, height: int) -> list[list[dict]]:
    """Three rounds: a box around the middle, a negative click in a corner, a positive click in the middle."""
    return [[{"type": "box", "x0": width // 4, "y0": height // 20, "x1": 3 * width // 4, "y1": height - 1}],
            [{"type": "click", "x": width // 20, "y": height // 20, "positive": False}],
            [{"type": "click", "x": width // 2, "y": 11 * height // 20}]]


class Tally:
    """What the clients saw."""

    def __init__(self):
        self.latencies, self.waited, self.failures, self.restarts, self.rounds = [], [], [], 0, 0
        self.busy = {"upload": 0, "round": 0}  # 503 answers by kind of request

    async def request(self, client: httpx.AsyncClient, kind: str, url: str, **kwargs):
        """One POST, retried after each 503 as its Retry-After says (a 503 without one is a failure): the
        response, the seconds of its served attempt and the seconds from the first attempt."""
        first = time.perf_counter()
        while True:
            start = time.perf_counter()
            response = await client.post(url, **kwargs)
            if response.status_code != 503:
                return response, time.perf_counter() - start, time.perf_counter() - first
            self.busy[kind] += 1
            if "retry-after" not in response.headers:
                self.failures.append("503 without Retry-After")
                return response, 0.0, 0.0
            await asyncio.sleep(int(response.headers["retry-after"]))


async def one_client(client: httpx.AsyncClient, image: bytes, tally: Tally) -> None:
    """Upload, then the three rounds; a session evicted past the cap starts over (at most MAX_RESTARTS times)."""
    for _ in range(MAX_RESTARTS + 1):
        response, _, _ = await tally.request(client, "upload", "/v1/sessions", files={"image": ("p.jpg", image)})
        if response.status_code != 201:
            tally.failures.append(f"upload: {response.status_code} {response.text[:120]}")
            return
        session = response.json()
        for given in prompts(session["width"], session["height"]):
            response, served, waited = await tally.request(client, "round", f"/v1/sessions/{session['id']}/rounds",
                                                           json={"prompts": given})
            if response.status_code == 404:
                tally.restarts += 1
                break
            if response.status_code != 200 or not response.content.startswith(b"\x89PNG"):
                tally.failures.append(f"round: {response.status_code} {response.text[:120]}")
                return
            tally.rounds += 1
            tally.latencies.append(served)
            tally.waited.append(waited)
        else:
            return
    tally.failures.append(f"session evicted {MAX_RESTARTS + 1} times")


def oversized(port: int, declared: int) -> tuple[str, float]:
    """Declare ``declared`` bytes, send 64 KB: the status line and the seconds until it came."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                           f"Content-Length: {declared}\r\n\r\n".encode() + os.urandom(65536))
        answer = connection.recv(4096).decode(errors="replace")
    return answer.split("\r\n", 1)[0], time.perf_counter() - start


async def garbage(client: httpx.AsyncClient, count: int, session: str) -> list[int]:
    rng = random.Random(0)
    statuses = []
    for i in range(count):
        noise = rng.randbytes(rng.randint(1, 200_000))
        kind = i % 3
        if kind == 0:
            response = await client.post("/v1/sessions", files={"image": ("x.jpg", noise)})
        elif kind == 1:
            response = await client.post("/v1/sessions", content=noise,
                                         headers={"content-type": "multipart/form-data; boundary=zz"})
        else:
            response = await client.post(f"/v1/sessions/{session}/rounds", content=noise,
                                         headers={"content-type": "application/json"})
        statuses.append(response.status_code)
    return statuses


def memory_and_cpu(pid: int) -> tuple[float, float]:
    """Peak resident MB (VmHWM) and CPU seconds (user + system) of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return peak_kb / 1024, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_server(args) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mattekit", "serve", "--port", str(port), "--workers", str(args.workers),
               "--max-queue", str(args.max_queue), "--max-sessions", str(args.max_sessions),
               "--max-upload-mb", str(args.max_upload_mb)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return server, port
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("mattekit serve did not start")


async def load(args, port: int, images: list[bytes]) -> None:
    tally = Tally()
    limits = httpx.Limits(max_connections=args.clients + 4)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600, limits=limits) as client:
        start, cpu = time.perf_counter(), time.process_time()
        tasks = [asyncio.create_task(one_client(client, images[i % len(images)], tally)) for i in range(args.clients)]
        finished, unfinished = await asyncio.wait(tasks, timeout=args.deadline)
        for task in unfinished:
            task.cancel()
        wall = time.perf_counter() - start
        print(f"clients: {args.clients} x 3 rounds on {args.height}p photos; {wall:.1f} s wall, "
              f"{tally.rounds} rounds served ({tally.rounds / wall:.2f} rounds/s), {len(unfinished)} clients "
              f"unfinished at the deadline, client CPU {time.process_time() - cpu:.1f} s")
        for name, values in (("served attempt", tally.latencies), ("with 503 waits", tally.waited)):
            if values:
                p50, p95 = np.percentile(values, [50, 95])
                print(f"round latency ({name}): p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(values):.2f} s")
        print(f"503 answers (all with Retry-After, then retried): {tally.busy['upload']} to uploads, "
              f"{tally.busy['round']} to rounds; sessions evicted past the cap and "
              f"restarted: {tally.restarts}; failures: {len(tally.failures)} {tally.failures[:3]}")
        session = (await client.post("/v1/sessions", files={"image": ("p.jpg", images[0])})).json()["id"]
        statuses = await garbage(client, args.garbage, session)
        print(f"garbage bodies: {len(statuses)}, statuses {sorted(set(statuses))}, "
              f"5xx: {sum(s >= 500 for s in statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--max-sessions", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-queue", type=int, default=16)
    parser.add_argument("--max-upload-mb", type=float, default=25)
    parser.add_argument("--oversized", type=int, default=5)
    parser.add_argument("--garbage", type=int, default=12)
    parser.add_argument("--deadline", type=float, default=900, help="seconds for the clients to finish")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    images = photos(args.data, args.height)
    server, port = start_server(args)
    try:
        asyncio.run(load(args, port, images))
        declared = int(2 * args.max_upload_mb * 2**20)
        answers = [oversized(port, declared) for _ in range(args.oversized)]
        print(f"oversized uploads ({declared / 2**20:g} MB declared, 64 KB sent): "
              f"{sorted({line for line, _ in answers})}, slowest answer {max(s for _, s in answers):.3f} s")
        peak, cpu = memory_and_cpu(server.pid)
        print(f"server: peak resident memory {peak:.0f} MB (VmHWM), CPU {cpu:.1f} s, "
              f"--max-sessions {args.max_sessions}, --workers {args.workers}, --max-queue {args.max_queue}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
