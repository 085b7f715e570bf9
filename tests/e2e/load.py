"""A bounded load generator for the end-to-end tests: a few client threads, 127.0.0.1 only, capped in time and count.

Each load comes from its own loopback source address (127.0.0.x), so nginx's per-IP rate limits of one test never
affect another.

The client behaves like a browser or urllib3: idempotent requests reuse a keep-alive connection, and when the server
closed that idle connection just as the request went out (nginx does so on every reload) they are sent again once on
a new connection — nothing had reached a replica. Non-idempotent requests are never re-sent: they go out on a fresh
connection each, so any failure of theirs is a real one.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SECONDS = 120.0
MAX_REQUESTS = 20_000
STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass
class Result:
    method: str
    path: str
    status: int | None
    error: str | None = None
    retry_after: str | None = None
    started: float = 0.0  # time.monotonic() when it was sent
    elapsed: float = 0.0  # seconds until the whole answer was read (a re-send on a stale connection included)


@dataclass
class Load:
    port: int
    source_ip: str
    # a step sends one request on the connection and returns its Result; None means a plain GET of the path
    steps: list[Callable[[http.client.HTTPConnection], Result]] = field(default_factory=list)
    threads: int = 2
    pause: float = 0.05
    results: list[Result] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=15, source_address=(self.source_ip, 0))

    def _send(self, step, conn: http.client.HTTPConnection | None) -> tuple[Result, http.client.HTTPConnection | None]:
        idempotent = getattr(step, "idempotent", False)
        reused = conn is not None and idempotent
        if not reused:
            conn = self.connect()
        try:
            result = step(conn)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = None
            result = Result("?", "?", None, f"{type(exc).__name__}: {exc}")
            if reused and isinstance(exc, STALE_CONNECTION):  # closed while idle: nothing was served, send again
                conn = self.connect()
                try:
                    result = step(conn)
                except (OSError, http.client.HTTPException) as retry_exc:
                    result = Result("?", "?", None, f"{type(retry_exc).__name__}: {retry_exc} (after {exc!r})")
                    conn.close()
                    conn = None
        if not idempotent and conn is not None:
            conn.close()
            return result, None
        return result, conn

    def _run(self, offset: int) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        conn = None
        i = offset
        while not self._stop.is_set() and time.monotonic() < deadline and len(self.results) < MAX_REQUESTS:
            step = self.steps[i % len(self.steps)]
            i += 1
            started = time.monotonic()
            result, reusable = self._send(step, conn)
            result.started, result.elapsed = started, time.monotonic() - started
            if reusable is not None:
                conn = reusable
            elif getattr(step, "idempotent", False):
                conn = None
            with self._lock:
                self.results.append(result)
            time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def __enter__(self) -> Load:
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=30)

    def failures(self) -> list[Result]:
        return [r for r in self.results if r.error or r.status is None or r.status >= 400]

    def worst_latency(self, since: float = 0.0, until: float = float("inf")) -> float:
        """The longest answer among the requests sent between two time.monotonic() instants."""
        return max((r.elapsed for r in self.results if since <= r.started <= until), default=0.0)

    def summary(self) -> Counter:
        return Counter((r.method, r.status) for r in self.results)


def get(path: str, headers: dict | None = None) -> Callable[[http.client.HTTPConnection], Result]:
    def step(conn: http.client.HTTPConnection) -> Result:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return Result("GET", path, response.status, retry_after=response.getheader("Retry-After"))

    step.idempotent = True
    return step


def idempotent(step):
    step.idempotent = True
    return step


def request(port: int, method: str, path: str, *, body=None, headers=None, source_ip: str = "127.0.0.1"):
    """One request on its own connection → (status, headers, parsed JSON or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source_ip, 0))
    try:
        payload = json.dumps(body) if body is not None else None
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()
