"""The source code of the core's functions and classes, as the pages print it: read once per server process.

Why not ``inspect.getsource`` on every rerun: for a class it parses the whole module with ``ast.parse``, and CPython
3.11's parser keeps its recursion counter in one place for all threads (python/cpython#106905). On a class
server several sessions' reruns run in threads at once, and ``benchmarks/class_server.py --browsers elsewhere``
(eight students acting every 0.1–1 s) showed Multi-head attention's page an exception box, "SystemError: AST
constructor recursion depth mismatch (before=45, after=39)", about once in 800 actions. Each source is now read
once, under a lock, and kept.
"""

from __future__ import annotations

import inspect
import threading

_LOCK = threading.Lock()
_SOURCES: dict[object, str] = {}


def _read(obj) -> str:
    with _LOCK:  # one reader at a time; the sessions that waited find it read
        if obj not in _SOURCES:
            _SOURCES[obj] = inspect.getsource(obj)
        return _SOURCES[obj]


def source_of(*objects) -> str:
    """The source code of each of ``objects`` (functions or classes), joined by a blank line.

    Raises TypeError for a built-in object and OSError where the source file cannot be read, as
    ``inspect.getsource`` does (the pages only pass the project's own code).
    """
    return "\n\n".join(_read(obj) for obj in objects)
