"""A Streamlit session without a browser: the messages a real page sent, replayed over the app's websocket.

``benchmarks/class_server.py --browsers elsewhere`` uses it to load a server as a class does, whose browsers draw
their pages on the students' laptops, not on the server's cores. A real Chromium page is driven once through
the same actions (``Recorder``: every ``BackMsg`` its page sends is kept, as bytes); then any number of
:class:`WireSession` s send those messages again, each over a websocket of its own (so a session of its own on the
server, with the cookies it is given), and time each rerun from the moment the request leaves until the server's
``script_finished`` for it arrives: the server's part of the rerun plus the loopback network, no drawing.

What a wire session does as Streamlit's frontend does (``frontend/lib/src/WidgetStateManager``,
``ForwardMsgCache``, ``FragmentAutoRerun``): it tells the server which cacheable messages it already holds
(``cached_message_hashes``, so the server sends references for those, as to a browser); it reruns a fragment
every ``interval`` seconds while the server's last ``auto_rerun`` for it holds (the live Train panel, the owner
heartbeat; a full run forgets them until the server names them again, ``stop_auto_rerun`` ends one), one rerun at
a time; and it counts the exception elements the server sends (the red boxes a page
would show). What it does not do: it draws nothing and runs no component code, so a page's own JavaScript (none
in this app's measured pages) is not exercised.

Not a test; no part of the app imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from urllib.parse import urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN


def reruns_in(frames: list[bytes | str]) -> list[BackMsg]:
    """The ``rerun_script`` messages among a page's sent websocket frames (heartbeats and the rest dropped)."""
    out = []
    for frame in frames:
        if isinstance(frame, str):
            continue
        msg = BackMsg()
        with contextlib.suppress(Exception):
            msg.ParseFromString(frame)
            if msg.WhichOneof("type") == "rerun_script":
                out.append(msg)
    return out


def _slider_state(slider, values: list[float]):
    """The WidgetState a page sends for a slider at ``values`` (for a select_slider: indices into its options,
    as its element gives its default and value; the state names the options)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    state = WidgetState(id=slider.id)
    if slider.options:
        state.string_array_value.data.extend(slider.options[int(v)] for v in values)
    else:
        state.double_array_value.data.extend(values)
    return state


def _slider_position(slider, state) -> float:
    """A slider's (first) value as a number on its own scale: the option index for a select_slider."""
    if slider.options:
        label = state.string_array_value.data[0] if state.string_array_value.data else None
        return float(list(slider.options).index(label)) if label in slider.options else float(slider.default[0])
    return state.double_array_value.data[0] if state.double_array_value.data else float(slider.default[0])


class WireSession:
    """One Streamlit session over a websocket, sending recorded ``rerun_script`` messages.

    ``url``: the app's http(s) address; ``cookies``: name → value sent with the websocket handshake (a
    browser's ``tc_browser`` makes the session that browser's, as a second tab would be).
    """

    def __init__(self, name: str, url: str, cookies: dict[str, str] | None = None) -> None:
        parts = urlparse(url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.name = name
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.ws_url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        self.cookies = dict(cookies or {})
        self.finished = 0  # runs that really ended (not FINISHED_EARLY_FOR_RERUN)
        self.exceptions: list[str] = []  # the exception elements received: "Type: message (stack)"
        self.cache: set[str] = set()
        self.auto: dict[str, float] = {}  # fragment id → interval, from the server's auto_rerun messages
        self._ended = asyncio.Event()
        self._lock = asyncio.Lock()  # one rerun at a time, as a page waits for its script
        self._ws = None
        self._tasks: list[asyncio.Task] = []
        self._base: BackMsg | None = None  # the last full rerun sent: the page fragments rerun on
        # The sliders of the page on screen, in the order the server sent them (id → (element, the fragment it
        # belongs to, "" for none)), and this session's value of each (a WidgetState, as the frontend keeps it).
        self.sliders: dict[str, tuple] = {}
        self.values: dict[str, object] = {}

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else None
        self.attach(await connect(self.ws_url, origin=self.origin, subprotocols=["streamlit"],
                                  additional_headers=headers, max_size=None, compression=None, proxy=None))

    def attach(self, ws) -> None:
        """Talk over ``ws`` (an open websocket: ``send``, ``close`` and async iteration over what arrives)."""
        self._ws = ws
        self._tasks.append(asyncio.create_task(self._read()))

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for data in self._ws:
                if isinstance(data, str):
                    continue
                msg = ForwardMsg.FromString(data)
                if msg.hash and msg.metadata.cacheable:
                    self.cache.add(msg.hash)
                kind = msg.WhichOneof("type")
                if kind == "script_finished":
                    if msg.script_finished != EARLY:
                        self.finished += 1
                        self._ended.set()
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    which = element.WhichOneof("type")
                    if which == "exception":
                        box = element.exception
                        self.exceptions.append(f"{box.type}: {box.message} (stack, innermost last: "
                                               + " | ".join(line.strip() for line in box.stack_trace) + ")")
                    elif which == "slider":
                        self._saw_slider(element.slider, msg.delta.fragment_id)
                elif kind == "auto_rerun":
                    self.auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
                elif kind == "stop_auto_rerun":
                    for fragment in msg.stop_auto_rerun.fragment_ids:
                        self.auto.pop(fragment, None)
        self._ended.set()  # closed: wake whoever waits

    async def rerun(self, template: BackMsg, timeout: float = 60.0) -> float:
        """Send one recorded rerun (this session's cache hashes in it) and return the seconds until the run it
        started has ended on the server; TimeoutError after ``timeout`` s, ConnectionError if the socket closed."""
        async with self._lock:
            msg = BackMsg()
            msg.CopyFrom(template)
            state = msg.rerun_script
            del state.cached_message_hashes[:]
            state.cached_message_hashes.extend(sorted(self.cache))
            if not state.fragment_id:  # a full run: the page registers its timed fragments again
                self._base = template
                self.auto.clear()
            before = self.finished
            start = time.perf_counter()
            await self._ws.send(msg.SerializeToString())
            deadline = start + timeout
            while self.finished <= before:
                if self._tasks and self._tasks[0].done():
                    raise ConnectionError(f"{self.name}: the websocket closed")
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no rerun ended within {timeout:.0f} s")
                self._ended.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ended.wait(), min(left, 0.5))
            return time.perf_counter() - start

    def _saw_slider(self, slider, fragment_id: str) -> None:
        self.sliders[slider.id] = (slider, fragment_id)
        mine = self.values.get(slider.id)
        stale = (mine is not None and slider.options
                 and not set(mine.string_array_value.data) <= set(slider.options))  # its options changed
        if slider.set_value or mine is None or stale:  # the server set it, or the page shows its default
            shown = slider.value if slider.set_value else slider.default
            self.values[slider.id] = _slider_state(slider, list(shown))

    async def switch_page(self, template: BackMsg, timeout: float = 60.0) -> float:
        """Open another page (a recorded full rerun of it): its sliders are learnt from what the server sends."""
        self.sliders.clear()
        self.values.clear()
        return await self.rerun(template, timeout)

    async def move_slider(self, template: BackMsg, index: int, rng: random.Random, timeout: float = 60.0) -> float:
        """Move the ``index``-th enabled slider of the page one step, as a student's arrow key does: towards the
        middle at either end, else left or right at random; ``template``: a recorded rerun of the same page (the
        other widgets' values). Returns the seconds until the run ended on the server."""
        enabled = [(s, f) for s, f in self.sliders.values() if not s.disabled]
        if not enabled:
            raise RuntimeError(f"{self.name}: no slider on the page")
        slider, fragment = enabled[index % len(enabled)]
        low, high = slider.min, slider.max
        position = _slider_position(slider, self.values[slider.id])
        left = position >= high or (position > low and rng.random() < 0.5)
        position = min(high, max(low, position - slider.step if left else position + slider.step))
        state = _slider_state(slider, [position])
        self.values[slider.id] = state
        msg = BackMsg()
        msg.CopyFrom(template)
        msg.rerun_script.fragment_id = fragment
        msg.rerun_script.is_auto_rerun = False
        kept = [w for w in msg.rerun_script.widget_states.widgets if w.id not in self.values]
        del msg.rerun_script.widget_states.widgets[:]
        msg.rerun_script.widget_states.widgets.extend(kept)
        msg.rerun_script.widget_states.widgets.extend(self.values[i] for i in self.sliders if i in self.values)
        return await self.rerun(msg, timeout)

    def keep_fragments_running(self) -> None:
        """Rerun every fragment the server asked to rerun (``auto_rerun``) at its interval, on the page last
        loaded in full, until :meth:`close` (the server's log times them: ``benchmarks/timed_server.py``)."""
        self._tasks.append(asyncio.create_task(self._auto_loop()))

    async def _auto_loop(self) -> None:
        due: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for fragment in [f for f in due if f not in self.auto]:
                del due[fragment]
            for fragment, interval in list(self.auto.items()):
                due.setdefault(fragment, now + interval)
                if self._base is not None and now >= due[fragment]:
                    msg = BackMsg()
                    msg.CopyFrom(self._base)
                    msg.rerun_script.fragment_id = fragment
                    msg.rerun_script.is_auto_rerun = True
                    with contextlib.suppress(TimeoutError, ConnectionError):  # a late one: try again next time
                        await self.rerun(msg)
                    due[fragment] = time.monotonic() + interval
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
