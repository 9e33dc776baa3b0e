"""Whether the Hugging Face Hub can be used right now, answered within seconds.

Every download in the project (WikiText-2 and Multi30k through ``datasets``) asks
:func:`hub_unavailable_reason` first, so that an offline laptop gets a clear message in about
three seconds instead of ``datasets``' own retries. Offline mode (``HF_HUB_OFFLINE=1`` or
``HF_DATASETS_OFFLINE=1``, which CI and the tests set) answers at once, without touching the network.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

HUB_PROBE_TIMEOUT_S = 3.0

__all__ = ["HUB_PROBE_TIMEOUT_S", "hub_unavailable_reason"]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _connection_error(host: str, port: int, timeout: float) -> str | None:
    """Try a TCP connection; ``None`` if it opened within ``timeout`` seconds, else why not.

    The attempt runs in a daemon thread so that a stalled name lookup cannot outlast ``timeout``.
    """
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(f"connecting to {host}:{port} failed ({exc})")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"{host}:{port} did not answer within {timeout:g} s"


def hub_unavailable_reason(timeout: float = HUB_PROBE_TIMEOUT_S) -> str | None:
    """Why the Hub cannot be used right now (a sentence), or ``None`` if it answered a quick probe.

    Offline mode (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``) answers at once; otherwise one TCP
    connection to the Hub's endpoint (``HF_ENDPOINT``, default huggingface.co:443) is tried for at most
    ``timeout`` seconds.
    """
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if _env_flag(var):
            return f"offline mode is on ({var}={os.environ[var]})"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    return _connection_error(host, port, timeout)
