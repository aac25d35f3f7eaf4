"""A real OpenAI-compatible HTTP server on 127.0.0.1 for endpoint-sampler tests.

``FakeOpenAI`` answers ``POST /v1/chat/completions`` and ``/v1/completions`` with deterministic
texts (``"<prompt> | s<seed> #<i>"``), records every request body, tracks the most requests in
flight at once, and can misbehave on purpose: fail every request after the first ``fail_after``
(a server that dies mid-run), fail every ``flaky_every``-th request with 503, answer 429 with
``Retry-After``, reject with 400, return one choice whatever ``n`` asks, or return garbage.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAI:
    def __init__(
        self,
        *,
        fail_after: int | None = None,
        flaky_every: int | None = None,
        rate_limit_every: int | None = None,
        reject: bool = False,
        single_choice: bool = False,
        garbage_every: int | None = None,
        delay: float = 0.0,
    ) -> None:
        self.fail_after = fail_after
        self.flaky_every = flaky_every
        self.rate_limit_every = rate_limit_every
        self.reject = reject
        self.single_choice = single_choice
        self.garbage_every = garbage_every
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.count = 0
        self.ok = 0
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with fake.lock:
                    fake.count += 1
                    number = fake.count
                    fake.requests.append(body)
                    fake.paths.append(self.path)
                    fake.headers.append(dict(self.headers))
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                try:
                    if fake.delay:
                        time.sleep(fake.delay)
                    self._answer(number, body)
                finally:
                    with fake.lock:
                        fake.inflight -= 1

            def _answer(self, number: int, body: dict[str, Any]) -> None:
                if fake.reject:
                    return self._send(400, {"error": {"message": "The model `nope` does not exist."}})
                if fake.fail_after is not None and fake.ok >= fake.fail_after:
                    return self._send(500, {"error": {"message": "server crashed"}})
                if fake.flaky_every and number % fake.flaky_every == 0:
                    return self._send(503, {"error": {"message": "overloaded"}})
                if fake.rate_limit_every and number % fake.rate_limit_every == 0:
                    return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
                if fake.garbage_every and number % fake.garbage_every == 0:
                    return self._send(200, b"<html>bad gateway</html>")
                if self.path.endswith("/chat/completions"):
                    prompt = body["messages"][-1]["content"]
                elif self.path.endswith("/completions"):
                    prompt = body["prompt"]
                else:
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                n = 1 if fake.single_choice else int(body.get("n", 1))
                seed = body.get("seed")
                with fake.lock:
                    fake.ok += 1
                    serial = fake.ok
                choices = []
                for i in range(n):
                    # Without a seed, texts differ per request (like real sampling).
                    text = f"{prompt} | s{seed if seed is not None else f'r{serial}'} #{i}"
                    if self.path.endswith("/chat/completions"):
                        choices.append({"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"})
                    else:
                        choices.append({"index": i, "text": text, "finish_reason": "length"})
                self._send(200, {"id": f"cmpl-{number}", "object": "chat.completion", "choices": choices})

        return Handler
