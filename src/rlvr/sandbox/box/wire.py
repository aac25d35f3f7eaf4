"""The wire format: framing and the plain-data value codec. The only part the verifier imports.

Framing: a 4-byte big-endian length, then the body. Sandbox messages carry UTF-8 JSON objects
(``pack`` / ``read_msg``); ``rlvr.engine.worker`` frames pickles with the same ``frame`` /
``FrameBuffer``. Readers never read past the message they are reading (``read_exact``): the
next message may be a secret that must not be in memory yet.

Values that cross from the candidate to the harness use a tagged JSON codec of *plain data
only*: exact builtin types (a subclass may override ``__eq__``), bounded depth and size. JSON
arrays are always tagged: ["L", ...] list, ["T", ...] tuple, ["S", ...] set, ["F", ...]
frozenset, ["D", [k, v], ...] dict, ["B", latin1] bytes, ["A", latin1] bytearray, ["C", re, im]
complex, ["I", "hex"] huge int, ["H", id, type, callable] handle (top level only).
"""

from __future__ import annotations

import json
import os
import struct

HEADER = struct.Struct("!I")
MAX_MESSAGE = 256 << 20
MAX_DEPTH = 60
MAX_ITEMS = 2_000_000
_BIG_INT_BITS = 4000

JSON_ENCODER = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps(sep=...) builds one per call


class FrameError(Exception):
    """A frame is over its size limit or its body is malformed."""


# -- framing -----------------------------------------------------------------------------------
def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body)) + body


class FrameBuffer:
    """Bytes received so far on one connection; ``pop()`` takes one complete frame body.

    One buffer per connection object, never per descriptor number: a reused descriptor must not
    inherit a previous peer's unread bytes (a forged reply queued by the last candidate)."""

    __slots__ = ("buf", "limit")

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.buf = bytearray()
        self.limit = limit

    def feed(self, data: bytes) -> None:
        self.buf += data
        self.need()  # a header over the limit fails now, not after the body has arrived

    def need(self) -> int:
        """Bytes the buffer must hold for its first frame to be complete."""
        if len(self.buf) < HEADER.size:
            return HEADER.size
        (n,) = HEADER.unpack_from(self.buf)
        if n > self.limit:
            raise FrameError(f"a {n}-byte message is over the {self.limit}-byte limit")
        return HEADER.size + n

    def pop(self) -> bytes | None:
        need = self.need()
        if len(self.buf) < need:
            return None
        body = bytes(self.buf[HEADER.size:need])
        del self.buf[:need]
        return body


def pack(obj: object) -> bytes:
    return frame(JSON_ENCODER.encode(obj).encode("utf-8", "surrogatepass"))


def unpack(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        raise FrameError("malformed message") from None


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_msg(fd: int, obj: object) -> None:
    write_all(fd, pack(obj))


def read_exact(fd: int, n: int) -> bytes | None:
    """Exactly ``n`` bytes, or None on EOF. Never reads past them."""
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_msg(fd: int, limit: int = MAX_MESSAGE) -> object | None:
    """One JSON message, or None on EOF; FrameError when it is too large or malformed."""
    head = read_exact(fd, HEADER.size)
    if head is None:
        return None
    (n,) = HEADER.unpack(head)
    if n > limit:
        raise FrameError(f"a {n}-byte message is over the {limit}-byte limit")
    body = read_exact(fd, n)
    return None if body is None else unpack(body)


# -- plain-data codec ----------------------------------------------------------------------------
class Unserialisable(Exception):
    """A value is not plain data (or is too large or deep to send)."""


_SCALARS = (type(None), bool, str, float)
_TAGS = {list: "L", tuple: "T", set: "S", frozenset: "F"}


def _enc(v: object, depth: int, budget: list[int]) -> object:
    t = type(v)  # exact types only: a subclass may override __eq__
    if t in _SCALARS:
        return v
    if t is int:
        return v if v.bit_length() <= _BIG_INT_BITS else ["I", hex(v)]  # type: ignore[attr-defined]
    budget[0] -= 1
    if budget[0] < 0:
        raise Unserialisable("value has too many items")
    if depth > MAX_DEPTH:
        raise Unserialisable("value is nested too deeply")
    tag = _TAGS.get(t)
    if tag is not None:
        budget[0] -= len(v)  # type: ignore[arg-type]
        return [tag, *[_enc(x, depth + 1, budget) for x in v]]  # type: ignore[attr-defined]
    if t is dict:
        budget[0] -= len(v)  # type: ignore[arg-type]
        return ["D", *[[_enc(k, depth + 1, budget), _enc(x, depth + 1, budget)]
                       for k, x in v.items()]]  # type: ignore[attr-defined]
    if t is bytes or t is bytearray:
        return ["B" if t is bytes else "A", bytes(v).decode("latin-1")]  # type: ignore[call-overload]
    if t is complex:
        return ["C", v.real, v.imag]  # type: ignore[attr-defined]
    raise Unserialisable(f"a {t.__name__} object is not plain data")


def encode_value(value: object, handle=None) -> object:  # noqa: ANN001
    """Plain data to tagged JSON. ``handle(obj)`` turns a non-plain top-level value into a handle
    reference; nested non-plain values are never sent (they raise Unserialisable)."""
    t = type(value)
    if t in _SCALARS or (t is int and value.bit_length() <= _BIG_INT_BITS):  # type: ignore[attr-defined]
        return value  # the common case, without the recursion machinery
    if handle is not None:
        try:
            return _enc(value, 0, [MAX_ITEMS])
        except Unserialisable:
            return handle(value)
    return _enc(value, 0, [MAX_ITEMS])


def _dec(x: object, depth: int, make_handle) -> object:  # noqa: ANN001
    t = type(x)
    if t in _SCALARS or t is int:
        return x
    if depth > MAX_DEPTH + 2:
        raise ValueError("value nested too deeply")
    if t is not list or not x or type(x[0]) is not str:  # type: ignore[index]
        raise ValueError("malformed value")
    tag, rest = x[0], x[1:]  # type: ignore[index]
    if tag == "L":
        return [_dec(i, depth + 1, None) for i in rest]
    if tag == "T":
        return tuple(_dec(i, depth + 1, None) for i in rest)
    if tag in ("S", "F"):
        items = [_dec(i, depth + 1, None) for i in rest]
        return set(items) if tag == "S" else frozenset(items)
    if tag == "D":
        out = {}
        for pair in rest:
            if type(pair) is not list or len(pair) != 2:
                raise ValueError("malformed dict item")
            out[_dec(pair[0], depth + 1, None)] = _dec(pair[1], depth + 1, None)
        return out
    if tag in ("B", "A") and len(rest) == 1 and type(rest[0]) is str:
        raw = rest[0].encode("latin-1")
        return raw if tag == "B" else bytearray(raw)
    if tag == "C" and len(rest) == 2:
        return complex(float(rest[0]), float(rest[1]))
    if tag == "I" and len(rest) == 1 and type(rest[0]) is str:
        return int(rest[0], 16)
    if tag == "H" and make_handle is not None and depth == 0 and len(rest) == 3:
        return make_handle(int(rest[0]), str(rest[1])[:100], bool(rest[2]))
    raise ValueError(f"unknown value tag {tag!r}")


def decode_value(data: object, make_handle=None) -> object:  # noqa: ANN001
    """Tagged JSON back to plain data; strict: anything unexpected raises ValueError."""
    t = type(data)
    if t in _SCALARS or t is int:
        return data
    try:
        return _dec(data, 0, make_handle)
    except RecursionError:
        raise ValueError("value nested too deeply") from None


def short_repr(value: object, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - plain data always has a repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
