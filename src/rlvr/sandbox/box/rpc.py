"""The harness's side of the RPC into the candidate: requests, replies, and opaque handles.

Each call into model code is one request on the candidate's socket and one reply: a plain value
(``wire`` codec), a handle to an object that stays in the candidate, or the name and message of
an exception. Builtin exception types are re-raised as themselves (tests catch ``ValueError``);
anything else is ``CandidateRaised``. A dead, silent or garbling candidate is ``CandidateDied``.
Each ``Rpc`` has its own receive buffer, so nothing one candidate left unread can be taken for
another's reply.
"""

from __future__ import annotations

import socket

from .wire import FrameBuffer, FrameError, Unserialisable, decode_value, encode_value, pack, unpack


class CandidateDied(Exception):
    """The candidate process exited or sent garbage during a call."""


class CandidateRaised(Exception):
    """The candidate raised an exception that is not a standard builtin error."""


class LoadFailed(BaseException):
    """A call sent before the candidate's code had loaded found that it did not load (or lacks
    the entry point). A BaseException, so ``except Exception`` in test code does not hide it;
    ``run_tests`` reports the load either way."""


_MIRRORED = {
    cls.__name__: cls
    for cls in (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, AttributeError,
                RuntimeError, NotImplementedError, OverflowError, RecursionError, ArithmeticError,
                LookupError, UnicodeError, FileNotFoundError, OSError, MemoryError)
}


class Rpc:
    """One candidate's socket (for one check)."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock, self.limit, self.seq = sock, limit, 0
        self.buf = FrameBuffer(limit)
        self.entry: str | None = None
        """Set while the candidate's load report is still to come (calls were pipelined behind
        the code, to ``entry``'s handle 1): the first message read is then that report."""
        self.load: object = None

    def send(self, obj: object) -> None:
        try:
            self.sock.sendall(pack(obj))
        except OSError:
            raise CandidateDied("the candidate process exited") from None

    def recv(self) -> object:
        """One message; usually one recv() call (header and body arrive together)."""
        try:
            while True:
                body = self.buf.pop()
                if body is not None:
                    return unpack(body)
                want = max(1 << 16, min(self.buf.need() - len(self.buf.buf), 1 << 22))
                chunk = self.sock.recv(want)
                if not chunk:
                    raise CandidateDied("the candidate process exited")
                self.buf.feed(chunk)
        except FrameError as exc:
            raise CandidateDied(f"the candidate sent a bad message ({exc})") from None
        except OSError:
            raise CandidateDied("the candidate process exited") from None

    def request(self, op: str, **kw: object) -> dict:
        self.seq += 1
        kw["op"], kw["seq"] = op, self.seq
        self.send(kw)
        reply = self.recv()
        if self.entry is not None:
            self.take_load(reply)
            reply = self.recv()
        if not isinstance(reply, dict) or reply.get("seq") != self.seq:
            raise CandidateDied("the candidate sent an out-of-order reply")
        return reply

    def take_load(self, msg: object) -> None:
        """The candidate's load report, read first when calls were pipelined behind the code."""
        entry, self.entry, self.load = self.entry, None, msg
        names = msg.get("names") if isinstance(msg, dict) and msg.get("op") == "loaded" else None
        if not isinstance(names, dict) or not isinstance(names.get(entry), list) or names[entry][:2] != ["H", 1]:
            raise LoadFailed()

    def value(self, reply: dict) -> object:
        if "exc" in reply:
            name, msg = str(reply.get("exc"))[:80], str(reply.get("msg", ""))[:300]
            cls = _MIRRORED.get(name, CandidateRaised)
            raise cls(f"{name}: {msg}" if cls is CandidateRaised else msg)
        try:
            return decode_value(reply.get("value"), lambda h, t, c: Handle(self, h, t, c))
        except (ValueError, TypeError, OverflowError) as exc:
            raise CandidateDied(f"the candidate sent an invalid value ({exc})") from None


class Handle:
    """A non-plain object living in the candidate process. Calls and attribute reads are
    forwarded; comparison and truth tests are refused, so no object can fake equality."""

    __slots__ = ("_rpc", "_id", "_type", "_callable")

    def __init__(self, rpc: Rpc, hid: int, type_name: str, is_callable: bool) -> None:
        object.__setattr__(self, "_rpc", rpc)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_callable", is_callable)

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            enc_args = [encode_value(a) for a in args]
            enc_kw = {str(k): encode_value(v) for k, v in kwargs.items()}
        except Unserialisable as exc:
            raise TypeError(f"cannot pass a non-plain argument to the candidate: {exc}") from None
        reply = self._rpc.request("call", target=self._id, args=enc_args, kwargs=enc_kw)
        # In-place mutation of list/dict/set arguments is mirrored back.
        for i, new in (reply.get("mutated") or {}).items():
            try:
                old, val = args[int(i)], decode_value(new)
            except (ValueError, IndexError, TypeError):
                continue
            if type(old) is list and type(val) is list:
                old[:] = val
            elif type(old) is dict and type(val) is dict or type(old) is set and type(val) is set:
                old.clear()
                old.update(val)
        return self._rpc.value(reply)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._rpc.value(self._rpc.request("getattr", target=self._id, name=name))

    def __iter__(self):  # noqa: ANN204
        return iter(self._rpc.value(self._rpc.request("materialise", target=self._id)))

    def __len__(self) -> int:
        return len(self._rpc.value(self._rpc.request("materialise", target=self._id)))  # type: ignore[arg-type]

    def __getitem__(self, key: object) -> object:
        return self._rpc.value(self._rpc.request("getitem", target=self._id, key=encode_value(key)))

    def _refuse(self, *_: object) -> bool:
        raise TypeError(f"the candidate returned an object of type {self._type}, not plain data; it cannot be "
                        "compared or used as a truth value")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = _refuse  # type: ignore[assignment]
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<candidate {self._type}>"

