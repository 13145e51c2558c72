"""The HTTP run: gunicorn with 2 sync workers serving the write scenario, loaded by wrk
from loopback for a bounded time, beside the same app without sessions."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from . import servers
from .wsgi import new_session, ours

CONNECTIONS = 8
SESSIONS = 200


def run_http(seconds: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """requests/s and latency percentiles per app; an ``error`` entry where one could not run."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return [{"app": "all", "error": "wrk is not installed (apt-get install -y wrk)"}]
    workdir = tempfile.mkdtemp(prefix="wsgisession-bench-http-")
    apps = [("no sessions", "none"), ("wsgisession sqlite", f"sqlite:///{workdir}/http.db")]
    if servers.reachable(servers.REDIS_HOST, servers.REDIS_PORT):
        apps.append(
            ("wsgisession redis", f"redis://{servers.REDIS_HOST}:{servers.REDIS_PORT}/0?prefix=wshttp{os.getpid()}:")
        )
    results = []
    try:
        for name, url in apps:
            log(f"http {name}")
            try:
                results.append({"app": name, **_one(wrk, url, seconds, workdir)})
            except Exception as exc:
                results.append({"app": name, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        from .stores import delete_redis_prefix

        if len(apps) > 2:
            delete_redis_prefix(f"wshttp{os.getpid()}:")
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def _one(wrk: str, url: str, seconds: int, workdir: str) -> dict[str, Any]:
    script = os.path.join(workdir, "cookies.lua")
    _write_script(script, _cookies(url))
    port = servers.free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "2",
        "-k",
        "sync",
        "-b",
        f"127.0.0.1:{port}",
        "benchmarks.httpapp:app",
    ]
    server = subprocess.Popen(
        command, cwd=root, env={**os.environ, "BENCH_STORE": url}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if not _wait(port, server):
            return {"error": "gunicorn did not start (pip install gunicorn)"}
        subprocess.run(
            [wrk, "-t1", "-c2", "-d1s", "-s", script, f"http://127.0.0.1:{port}/write"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        done = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script,
                f"http://127.0.0.1:{port}/write",
            ],
            capture_output=True,
            check=False,
            text=True,
            timeout=seconds + 30,
        )
        return _parse(done.stdout)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _cookies(url: str) -> list[str]:
    if url == "none":
        return [""]
    target = ours(url)
    try:
        return [new_session(target) for _ in range(SESSIONS)]
    finally:
        target.close()


def _write_script(path: str, cookies: list[str]) -> None:
    quoted = ",".join(f'"{c}"' for c in cookies)
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            f"local cookies = {{{quoted}}}\nlocal i = 0\n"
            "request = function()\n  i = i + 1\n  local c = cookies[(i % #cookies) + 1]\n"
            '  if c == "" then return wrk.format("GET") end\n'
            '  return wrk.format("GET", nil, {["Cookie"] = c})\nend\n'
        )


def _wait(port: int, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and server.poll() is None:
        if servers.reachable("127.0.0.1", port, 0.2):
            return True
        time.sleep(0.1)
    return False


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _parse(text: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rps is None:
        return {"error": "wrk printed no result: " + text.strip()[-200:]}
    found: dict[str, Any] = {"rps": float(rps.group(1))}
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", text)
        found[f"p{pct}_ms"] = round(float(match.group(1)) * _UNITS[match.group(2)], 3) if match else None
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    found["non_2xx"] = int(errors.group(1)) if errors else 0
    return found
