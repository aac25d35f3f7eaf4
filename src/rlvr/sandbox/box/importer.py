"""Standard-library imports for a process whose uid cannot walk to the standard library.

A sandboxed process's random uid may not be allowed to walk the path to the standard library (a
pyenv or conda Python under a home directory of mode 700); a lookup that starts at a descriptor
the zygote opened only checks the components below it. Pure-Python modules are read through the
descriptor (their ``__pycache__`` file when it matches); extension modules are loaded by a
relative path after a brief ``fchdir`` into lib-dynload. Landlock still confines reads to the
standard library.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys


class DirFdFinder:
    """A ``sys.meta_path`` finder over the standard library's and lib-dynload's descriptors."""

    def __init__(self, dirfd: int, root: str, dyn_fd: int, dyn_root: str) -> None:
        self.dirfd, self.root, self.dyn_fd, self.dyn_root = dirfd, root, dyn_fd, dyn_root

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if self.dyn_fd >= 0 and "." not in name:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                try:
                    os.stat(name + suffix, dir_fd=self.dyn_fd)
                except OSError:
                    continue
                loader = _ExtLoader(self.dyn_fd, name + suffix)
                return importlib.util.spec_from_loader(name, loader, origin=os.path.join(self.dyn_root, name + suffix))
        if self.dirfd < 0:
            return None
        rel = name.replace(".", "/")
        for cand, is_pkg in ((rel + "/__init__.py", True), (rel + ".py", False)):
            try:
                fd = os.open(cand, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dirfd)
            except OSError:
                continue
            try:
                with os.fdopen(fd, "rb") as f:
                    source = f.read()
                    st = os.fstat(f.fileno())
            except OSError:
                return None
            origin = os.path.join(self.root, cand)
            code = self._cached_code(cand, st)
            spec = importlib.util.spec_from_loader(name, _SourceLoader(source, origin, code), origin=origin,
                                                   is_package=is_pkg)
            if spec is not None and is_pkg:
                spec.submodule_search_locations = [os.path.join(self.root, rel)]
            if spec is not None:
                spec.has_location = True
            return spec
        return None


    def _cached_code(self, source_rel: str, st: os.stat_result) -> object | None:
        """The compiled module from its ``__pycache__`` file when that matches the source
        (compiling typing.py from source costs tens of milliseconds)."""
        import marshal

        head, _, tail = source_rel.rpartition("/")
        pyc = (head + "/" if head else "") + "__pycache__/" + tail[:-3] + "." + sys.implementation.cache_tag + ".pyc"
        try:
            fd = os.open(pyc, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dirfd)
            with os.fdopen(fd, "rb") as f:
                data = f.read()
        except OSError:
            return None
        if (len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER or data[4:8] != b"\0\0\0\0"
                or int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF):
            return None
        try:
            return marshal.loads(data[16:])
        except (ValueError, EOFError, TypeError):
            return None


class _SourceLoader:
    def __init__(self, source: bytes, origin: str, code: object | None = None) -> None:
        self.source, self.origin, self.code = source, origin, code

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: object) -> None:
        module.__file__ = self.origin  # type: ignore[attr-defined]
        code = self.code or compile(self.source, self.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _ExtLoader:
    def __init__(self, dyn_fd: int, fname: str) -> None:
        self.dyn_fd, self.fname = dyn_fd, fname

    def create_module(self, spec: object) -> object:
        import _imp
        import types

        cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        os.fchdir(self.dyn_fd)
        try:
            rel = types.SimpleNamespace(name=spec.name, origin="./" + self.fname)  # type: ignore[attr-defined]
            return _imp.create_dynamic(rel)
        finally:
            os.fchdir(cwd)
            os.close(cwd)

    def exec_module(self, module: object) -> None:
        import _imp

        _imp.exec_dynamic(module)

