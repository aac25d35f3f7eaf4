"""A real HTTP scoring service on 127.0.0.1 for the remote verifier's tests.

``ScoringServer`` runs ``http.server`` in a thread on an ephemeral port. Its ``mode`` decides how
it answers: ``ok`` (score 1 when the output equals the answer, else 0), ``slow`` (sleeps
``delay`` seconds first), ``flaky`` (HTTP 503 on the first ``fail_first`` requests, then ok),
``failing`` (always HTTP 500), ``reject`` (HTTP 401), ``bad_score`` (a score of 1.5), ``drip`` (the body one byte
per ``delay`` seconds). ``down`` is a stopped server: ``stop()`` then connect to its old port.
``/v1/chat/completions`` plays an OpenAI-compatible judge that reads the prompt's ``<output>`` and
``<reference>`` blocks; ``judge_reply`` overrides its reply text.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping in "slow" mode must not block stop()


class ScoringServer:
    """Start with ``with ScoringServer() as srv:``; ``srv.url`` is the scoring endpoint."""

    def __init__(self, mode: str = "ok", delay: float = 1.0, fail_first: int = 2) -> None:
        self.mode = mode
        self.delay = delay
        self.fail_first = fail_first
        self.requests = 0
        self.request_times: list[float] = []
        self.bodies: list[dict] = []
        self.judge_reply: str | None = None
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.requests += 1
                    n = owner.requests
                    owner.request_times.append(time.monotonic())
                    owner.bodies.append(body)
                mode = owner.mode
                if mode == "slow":
                    time.sleep(owner.delay)
                if mode == "failing" or (mode == "flaky" and n <= owner.fail_first):
                    self._send(503 if mode == "flaky" else 500, {"error": "unavailable"})
                    return
                if mode == "drip":  # headers at once, then the body one byte at a time
                    data = json.dumps({"score": 1.0, "reason": "eventually"}).encode()
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        for byte in data:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(owner.delay)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                if mode == "reject":
                    self._send(401, {"error": "bad api key"})
                    return
                if mode == "bad_score":
                    self._send(200, {"score": 1.5, "reason": "out of range"})
                    return
                if self.path.startswith("/v1/chat/completions"):
                    self._send(200, owner._chat(body))
                    return
                same = str(body.get("output", "")).strip() == str(body.get("answer", "")).strip()
                self._send(200, {"score": 1.0 if same else 0.0, "reason": "exact match" if same else "differs"})

            def _send(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/score"
        self.chat_url = f"http://127.0.0.1:{self.port}/v1/chat/completions"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _chat(self, body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        if self.judge_reply is not None:
            reply = self.judge_reply
        else:
            out = re.search(r"<output>\n(.*?)\n</output>", prompt, re.S)
            ref = re.search(r"<reference>\n(.*?)\n</reference>", prompt, re.S)
            same = bool(out and ref and out.group(1).strip() == ref.group(1).strip())
            reply = f"The output {'matches' if same else 'does not match'} the reference.\nSCORE: {1 if same else 0}"
        return {
            "choices": [{"message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 12, "total_tokens": 112},
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScoringServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
