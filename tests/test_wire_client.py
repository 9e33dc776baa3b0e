"""benchmarks/wire_client.py, the browser-less session of ``class_server.py --browsers elsewhere``: what it sends
for a slider move and for a timed fragment, against a fake websocket (no server; the benchmark is not a test)."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.wire_client import WireSession, reruns_in


class FakeSocket:
    """Answers every request with ``before`` (ForwardMsgs), then the run's end; records what was sent."""

    def __init__(self, before=()) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.sent: list[BackMsg] = []
        self.before = list(before)

    def __aiter__(self):
        return self

    async def __anext__(self):
        return await self.inbox.get()

    def push(self, msg: ForwardMsg) -> None:
        self.inbox.put_nowait(msg.SerializeToString())

    async def send(self, data: bytes) -> None:
        self.sent.append(BackMsg.FromString(data))
        for msg in self.before:
            self.push(msg)
        end = ForwardMsg()
        end.script_finished = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY
        self.push(end)

    async def close(self) -> None:
        pass


def _run(coroutine) -> None:
    """In a thread of its own: Playwright's sync API (the browser tests) may hold this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _slider(widget_id: str, low: float, high: float, default: float, fragment: str = "", options=()) -> ForwardMsg:
    msg = ForwardMsg()
    msg.delta.fragment_id = fragment
    slider = msg.delta.new_element.slider
    slider.id, slider.min, slider.max, slider.step = widget_id, low, high, 1
    slider.default.append(default)
    slider.options.extend(options)
    msg.hash, msg.metadata.cacheable = f"h-{widget_id}", True
    return msg


def _page_request(fragment: str = "") -> BackMsg:
    msg = BackMsg()
    msg.rerun_script.page_script_hash = "page"
    msg.rerun_script.fragment_id = fragment
    text = msg.rerun_script.widget_states.widgets.add()
    text.id, text.string_value = "text", "the cat sat"
    return msg


def _values(msg: BackMsg) -> dict:
    return {w.id: (list(w.double_array_value.data) or list(w.string_array_value.data) or w.string_value)
            for w in msg.rerun_script.widget_states.widgets}


def test_a_slider_move_is_one_step_of_that_slider_in_its_fragment_with_the_other_widgets_kept():
    async def scenario() -> None:
        socket = FakeSocket([_slider("d_model", 1, 64, 16, fragment="F"),
                             _slider("heads", 0, 2, 1, options=["1", "2", "4"])])
        session = WireSession("s", "http://127.0.0.1:1/")
        session.attach(socket)
        await session.switch_page(_page_request())
        first = socket.sent[0]
        assert _values(first) == {"text": "the cat sat"} and not first.rerun_script.cached_message_hashes
        rng = random.Random(0)
        await session.move_slider(_page_request(), 0, rng)
        sent = socket.sent[-1]
        assert sent.rerun_script.fragment_id == "F"  # the slider's own fragment reruns, as on the page
        values = _values(sent)
        assert values["text"] == "the cat sat" and values["heads"] == ["2"]
        assert values["d_model"] in ([15.0], [17.0])
        # the server's cacheable messages are named as held, as a browser's cache does
        assert set(sent.rerun_script.cached_message_hashes) == {"h-d_model", "h-heads"}
        # the select_slider: at its last option the next step goes left, by its options' names
        for _ in range(3):
            await session.move_slider(_page_request(), 1, rng)
        assert session.values["heads"].string_array_value.data[0] in ("1", "2", "4")
        session.values["heads"].string_array_value.data[:] = ["4"]
        await session.move_slider(_page_request(), 1, rng)
        assert _values(socket.sent[-1])["heads"] == ["2"] and socket.sent[-1].rerun_script.fragment_id == ""
        await session.close()

    _run(scenario())


def test_a_slider_at_its_maximum_moves_down_and_a_page_switch_forgets_the_old_pages_sliders():
    async def scenario() -> None:
        socket = FakeSocket([_slider("d_k", 1, 8, 8)])
        session = WireSession("s", "http://127.0.0.1:1/")
        session.attach(socket)
        await session.switch_page(_page_request())
        await session.move_slider(_page_request(), 0, random.Random(1))
        assert _values(socket.sent[-1])["d_k"] == [7.0]
        socket.before = []
        await session.switch_page(_page_request())
        assert session.sliders == {}
        await session.close()

    _run(scenario())


def test_timed_fragments_rerun_at_their_interval_until_the_server_stops_them():
    async def scenario() -> None:
        auto = ForwardMsg()
        auto.auto_rerun.fragment_id, auto.auto_rerun.interval = "live", 0.1
        socket = FakeSocket([auto])
        session = WireSession("s", "http://127.0.0.1:1/")
        session.attach(socket)
        await session.switch_page(_page_request())
        socket.before = []
        session.keep_fragments_running()
        await asyncio.sleep(0.45)
        reruns = [m for m in socket.sent[1:] if m.rerun_script.fragment_id == "live"]
        assert 2 <= len(reruns) <= 5 and all(m.rerun_script.is_auto_rerun for m in reruns)
        assert all(_values(m) == {"text": "the cat sat"} for m in reruns)  # on the page last opened
        stop = ForwardMsg()
        stop.stop_auto_rerun.fragment_ids.append("live")
        socket.push(stop)
        await asyncio.sleep(0.05)
        count = len(socket.sent)
        await asyncio.sleep(0.3)
        assert len(socket.sent) == count
        await session.close()

    _run(scenario())


def test_only_rerun_requests_are_kept_from_a_pages_frames():
    heartbeat = BackMsg()
    heartbeat.app_heartbeat = True
    frames = [heartbeat.SerializeToString(), _page_request().SerializeToString(), "text", b"\xff\x00 not a message"]
    kept = reruns_in(frames)
    assert len(kept) == 1 and kept[0].rerun_script.page_script_hash == "page"
