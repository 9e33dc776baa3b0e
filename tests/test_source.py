"""ui.source: the core's source code as the pages print it, read once and under a lock (CPython 3.11's ast.parse,
which inspect.getsource runs for a class, is not safe in several threads at once: python/cpython#106905)."""

from __future__ import annotations

import inspect
import threading
import time

import pytest

from transformer import attention as core_attention
from transformer.attention import ListOfHeadsMultiHeadAttention
from ui import source


def test_the_source_is_inspects_own_text():
    assert source.source_of(ListOfHeadsMultiHeadAttention) == inspect.getsource(ListOfHeadsMultiHeadAttention)
    both = source.source_of(core_attention.scaled_dot_product_no_loop_batch,
                            core_attention.scaled_dot_product_attention)
    assert both.startswith("def scaled_dot_product_no_loop_batch(")
    assert "\n\ndef scaled_dot_product_attention(" in both


def test_sessions_asking_at_once_read_the_source_once(monkeypatch):
    calls, inside, most_inside = [], [0], [0]
    lock = threading.Lock()

    def slow_getsource(obj):
        with lock:
            inside[0] += 1
            most_inside[0] = max(most_inside[0], inside[0])
        time.sleep(0.05)  # long enough for every thread to arrive while the first reads
        with lock:
            inside[0] -= 1
        calls.append(obj)
        return "class Probe: ...\n"

    class Probe:
        pass

    monkeypatch.setattr(source.inspect, "getsource", slow_getsource)
    results = []
    threads = [threading.Thread(target=lambda: results.append(source.source_of(Probe))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    source._SOURCES.pop(Probe, None)
    assert results == ["class Probe: ...\n"] * 8
    assert most_inside[0] == 1  # never two parses at once
    assert calls == [Probe]  # and once only


def test_a_builtin_has_no_source():
    with pytest.raises(TypeError):
        source.source_of(len)
