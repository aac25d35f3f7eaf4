"""Sampling from an OpenAI-compatible HTTP endpoint (vLLM, SGLang, llama.cpp, TGI, OpenAI).

Standard library only, through ``rlvr.httpclient`` (shared with the remote verifier). ``EndpointSampler.sample(prompt, n)`` returns n completions
for one prompt; callers run several prompts at once from threads (``sample_many``), bounded by
``concurrency``. Transient failures (connection errors, timeouts, HTTP 408/409/429/5xx, malformed
JSON) are retried with exponential backoff and jitter, honouring ``Retry-After``; other HTTP
errors (a wrong model name, a bad parameter) fail at once with the server's message.

Sampling only: this policy has no log-probabilities for training.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from rlvr.errors import ConfigError, RlvrError
from rlvr.httpclient import HttpFailure, RetriesExhausted, RetryPolicy, post, with_retries

__all__ = ["EndpointConfig", "EndpointError", "EndpointSampler", "resolve_endpoint"]

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EndpointError(RlvrError, RuntimeError):
    """The endpoint failed for good (retries exhausted, or a non-retryable HTTP error)."""


@dataclass(frozen=True)
class EndpointConfig:
    """How to reach the endpoint and how to sample."""

    url: str
    """Base URL (``http://host:8000`` or ``.../v1``) or the full ``.../chat/completions`` URL."""
    model: str
    """Model name the server knows (the ``model`` request field)."""
    api: str = "auto"
    """``chat`` (/v1/chat/completions), ``completions`` (/v1/completions) or ``auto`` (from the URL; chat)."""
    temperature: float = 1.0
    """Sampling temperature."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_tokens: int = 1024
    """Most new tokens per completion."""
    seed: int | None = None
    """Base seed; each prompt gets its own seed derived from this and the prompt id."""
    concurrency: int = 4
    """Requests in flight at once."""
    max_retries: int = 5
    """Retries per request after the first try."""
    backoff: float = 1.0
    """First retry delay in seconds; doubles each retry (with jitter), capped by ``backoff_max``."""
    backoff_max: float = 30.0
    """Longest delay between retries, seconds."""
    timeout: float = 300.0
    """Per-request socket timeout, seconds."""
    max_n_per_request: int = 16
    """Most completions asked for in one request (``n``); larger n is split into several requests."""
    api_key: str | None = None
    """Bearer token; None sends no Authorization header."""
    max_response_bytes: int = 64 * 1024 * 1024
    """Largest response body read; a bigger one is treated as a failed request (a runaway server)."""
    extra_body: tuple[tuple[str, Any], ...] = ()
    """Extra request fields, e.g. (("stop", ["</answer>"]),)."""

    def __post_init__(self) -> None:
        if self.api not in ("auto", "chat", "completions"):
            raise ConfigError(f"api must be auto, chat or completions, got {self.api!r}")
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint URL must start with http:// or https://, got {self.url!r}")
        if not self.model:
            raise ConfigError("--model must name the served model for an endpoint")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if self.max_n_per_request < 1:
            raise ConfigError(f"max_n_per_request must be >= 1, got {self.max_n_per_request}")
        if self.backoff < 0 or self.backoff_max < 0:
            raise ConfigError(f"backoff must be >= 0 seconds, got {self.backoff}")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout}")


def resolve_endpoint(url: str, api: str = "auto") -> tuple[str, str]:
    """The full request URL and the API kind for a base or full endpoint URL."""
    u = url.rstrip("/")
    if u.endswith("/chat/completions"):
        return u, "chat"
    if u.endswith("/completions"):
        return u, "completions"
    if not u.endswith("/v1"):
        u += "/v1"
    kind = "chat" if api == "auto" else api
    return u + ("/chat/completions" if kind == "chat" else "/completions"), kind


def prompt_seed(seed: int | None, prompt_id: str, request: int = 0) -> int | None:
    """A per-prompt seed: reproducible whatever order or run (resume) the prompt is sampled in."""
    if seed is None:
        return None
    return (seed * 1_000_003 + zlib.crc32(prompt_id.encode()) * 31 + request) % (2**31 - 1)


class EndpointSampler:
    """n completions per prompt from an OpenAI-compatible server."""

    def __init__(self, config: EndpointConfig, *, sleep: Callable[[float], Any] | None = None) -> None:
        self.config = config
        self.url, self.api = resolve_endpoint(config.url, config.api)
        self._stop = threading.Event()
        self._sleep = sleep
        self.retries = 0
        """Retries made so far (all threads)."""
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Make in-flight retries give up (used on Ctrl-C)."""
        self._stop.set()

    def sample(self, prompt: str | list[dict[str, Any]], n: int, *, prompt_id: str = "") -> list[dict[str, Any]]:
        """n completions, each ``{"text": str, "finish_reason": str | None}``.

        ``prompt`` is text, or for the chat API a list of messages.
        """
        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        out: list[dict[str, Any]] = []
        request = 0
        while len(out) < n:
            want = min(n - len(out), self.config.max_n_per_request)
            got = self._request(prompt, want, prompt_seed(self.config.seed, prompt_id, request))
            if not got:
                raise EndpointError(f"{self.url}: the server returned no choices")
            out.extend(got[:want])  # a server that ignores n gives 1 choice: keep asking
            request += 1
        return out

    def sample_many(
        self,
        items: Iterable[tuple[str, str | list[dict[str, Any]]]],
        n: int,
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Yield ``(prompt_id, completions)`` as prompts finish (not in input order), at most
        ``concurrency`` requests in flight; the first hard failure stops the rest and raises."""
        it = iter(items)
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="rlvr-endpoint") as pool:
            inflight: dict[Future[list[dict[str, Any]]], str] = {}
            try:
                while True:
                    while len(inflight) < self.config.concurrency:
                        nxt = next(it, None)
                        if nxt is None:
                            break
                        pid, prompt = nxt
                        inflight[pool.submit(self.sample, prompt, n, prompt_id=pid)] = pid
                    if not inflight:
                        return
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    # Hand over every finished success before raising a failure: nothing done is lost.
                    for fut in sorted(done, key=lambda f: f.exception() is not None):
                        pid = inflight.pop(fut)
                        yield pid, fut.result()
            except BaseException:
                self.stop()
                for fut in inflight:
                    fut.cancel()
                raise

    def generate(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[list[str]]:
        """``n`` completion texts per prompt, in prompt order (the ``Policy.generate`` signature);
        arguments left as None keep this sampler's configuration."""
        overrides: dict[str, Any] = {"seed": seed if seed is not None else self.config.seed}
        if temperature is not None:
            overrides["temperature"] = temperature
        if top_p is not None:
            overrides["top_p"] = top_p
        if max_new_tokens is not None:
            overrides["max_tokens"] = max_new_tokens
        sampler = EndpointSampler(replace(self.config, **overrides), sleep=self._sleep)
        got = dict(sampler.sample_many(((str(i), p) for i, p in enumerate(prompts)), n))
        return [[c["text"] for c in got[str(i)]] for i in range(len(prompts))]

    # -- one HTTP request with retries ------------------------------------------------------------

    def _body(self, prompt: str | list[dict[str, Any]], n: int, seed: int | None) -> dict[str, Any]:
        c = self.config
        body: dict[str, Any] = {
            "model": c.model,
            "n": n,
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_tokens": c.max_tokens,
        }
        if seed is not None:
            body["seed"] = seed
        if self.api == "chat":
            body["messages"] = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        else:
            if not isinstance(prompt, str):
                raise ConfigError("the completions API takes a text prompt, not chat messages")
            body["prompt"] = prompt
        body.update(dict(c.extra_body))
        return body

    def _request(self, prompt: str | list[dict[str, Any]], n: int, seed: int | None) -> list[dict[str, Any]]:
        c = self.config
        data = json.dumps(self._body(prompt, n, seed)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if c.api_key:
            headers["Authorization"] = f"Bearer {c.api_key}"

        def attempt() -> list[dict[str, Any]]:
            if self._stop.is_set():
                raise EndpointError("stopped")
            raw = post(
                self.url,
                data,
                headers,
                timeout=c.timeout,
                max_bytes=c.max_response_bytes,
                retry_status=_RETRY_STATUS.__contains__,
                whole_body_deadline=False,  # a long generation may stream its answer slowly
            )
            try:
                return self._parse(raw)
            except _Malformed as exc:
                raise HttpFailure("transient", str(exc)) from None

        def count_retry() -> None:
            with self._lock:
                self.retries += 1

        def sleep(delay: float) -> None:
            if self._sleep is not None:
                self._sleep(delay)
            elif self._stop.wait(delay):
                raise EndpointError("stopped")

        policy = RetryPolicy(c.max_retries, c.backoff, c.backoff_max, jitter="half")
        try:
            return with_retries(attempt, policy, sleep=sleep, on_retry=count_retry)[0]
        except HttpFailure as exc:  # not retryable: a wrong model name, a bad parameter
            if exc.status is not None:
                raise EndpointError(f"{self.url}: HTTP {exc.status}: {_error_detail(exc)}") from None
            raise EndpointError(f"{self.url}: {exc}") from None
        except RetriesExhausted as exc:
            last = _describe(exc.failures[-1])
            raise EndpointError(
                f"{self.url}: giving up after {c.max_retries + 1} attempt(s); last error: {last}"
            ) from None

    def _parse(self, raw: bytes) -> list[dict[str, Any]]:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Malformed(f"response is not JSON: {raw[:200]!r}") from None
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list):
            raise _Malformed(f"response has no 'choices' list: {str(payload)[:200]}")
        out: list[tuple[int, dict[str, Any]]] = []
        for pos, ch in enumerate(choices):
            if not isinstance(ch, dict):
                raise _Malformed("a choice is not an object")
            if self.api == "chat":
                msg = ch.get("message") or {}
                text = msg.get("content") if isinstance(msg, dict) else None
            else:
                text = ch.get("text")
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise _Malformed(f"choice text is {type(text).__name__}, not a string")
            idx = ch.get("index", pos)
            out.append((idx if isinstance(idx, int) else pos, {"text": text, "finish_reason": ch.get("finish_reason")}))
        out.sort(key=lambda t: t[0])
        return [c for _, c in out]


class _Malformed(Exception):
    """A response we could not read; retried (a proxy's HTML error page, a truncated body)."""


def _error_detail(exc: HttpFailure) -> str:
    """The server's own message from an error answer (an OpenAI-style ``{"error": {"message"}}``)."""
    body = exc.body
    try:
        payload = json.loads(body)
        err = payload.get("error", payload) if isinstance(payload, dict) else payload
        msg = err.get("message", err) if isinstance(err, dict) else err
        body = str(msg)
    except ValueError:
        pass
    reason = getattr(exc.cause, "reason", "") or ""
    return " ".join((body or str(reason)).split())[:300]


def _describe(failure: HttpFailure) -> str:
    """One line for the last failure of a request that was given up on."""
    if failure.status is not None:
        return f"HTTP {failure.status}: {_error_detail(failure)}"
    if failure.cause is not None:
        reason = getattr(failure.cause, "reason", failure.cause)
        return f"{type(failure.cause).__name__}: {reason}"
    return str(failure)


def api_key_from_env(name: str | None) -> str | None:
    """The API key in environment variable ``name`` (None when unset or no name)."""
    return os.environ.get(name) if name else None
