"""Issue 17's class scenario: one server, ten browsers, two of them training, on a small machine.

    python benchmarks/class_server.py [--quick] [--url URL] [--grace S] [--sessions N] [--training K] [--window S]
                                      [--think S] [--browsers here|elsewhere] [--drawn N]

Starts ``streamlit run app.py`` on a free loopback port (as the browser tests do, through
``benchmarks/timed_server.py``, which also writes down the server's own time for every rerun a browser asks for;
``--url`` measures a server that is already running instead, without those times; every ``TC_*`` variable of this
shell, e.g. ``TC_MAX_JOBS``, reaches the server, and ``--grace S`` sets ``TC_OWNER_GRACE_S``) and drives Debian's
Chromium through Playwright at 1280×720, one browser *context* per student (its own cookies, so its own "browser" to
the server). In order:

1. **Idle**: one context visits every page once (imports, caches), then the server's resident memory (RSS, read
   from /proc) is recorded.
2. **Training alone**: the first training session opens Train, picks Tiny Shakespeare *tiny* with steps 0 and a
   time limit long enough for the whole measurement (set through the page's widgets), starts it, and reads the
   page's step counter and tokens/s once a second for ``--idle-window`` seconds: its speed on an otherwise idle
   server.
3. **Class**: the other training sessions start the same run; the rest click around the Explore pages in a
   loop (Attention step by step, Multi-head, Tokens, Cost: a page switch, then slider moves), a student's pause
   (``--think``) between two actions. For ``--window`` seconds every action is timed from the click or key press
   until the rerun it caused has ended on the server (its status message on the page's websocket) and on screen
   (the page's running indicator gone), every chart is drawn and the next frame painted (two animation frames);
   the training sessions go on reading their pages, giving each run's speed while the others click.
4. **Slots**: the clicking sessions close, a fresh context opens Train and reads "Training slots on this
   server: N of M in use", the training sessions' contexts close (their owners are gone), and the fresh context
   reruns its page (the ``r`` key) until the slots are free: "slot free after X s (grace G s)".
5. **After**: every context closed, ``--settle`` seconds later the server's RSS again.

Each action is also timed on the server: from the moment the server received the browser's request until the run
that served it ended (the server's part; a class's browsers run on the students' laptops and add their own drawing
to it, while here they share the server's cores). The server it starts writes its runs into a fresh folder
(``TC_RUNS_DIR``), and each run's speed is also read from the run's own step records there (``metrics.jsonl``:
tokens/s, and the time the server received each), which a starved browser's page cannot delay. Targets (issue 17):
rerun p95 ≤ 3 s; each run ≥ 50 % of its idle speed (tokens/s as the page shows it: the trainer's own measure, which
the page's delays do not enter; steps/s of wall-clock time printed beside it); a slot free ≤ 5 s after the grace
period ends; server RSS within 100 MB of idle after the runs end. Prints one table with the targets beside the
measured values, and the CPU time the server, its training workers, Chromium and the rest of the machine took in
each window (the browsers share the server's cores here, unlike a class's laptops; ``--browser-nice 19`` gives the
server the CPU first). A step that fails is named and the table shows what was measured until then; every reading
goes to ``test-artifacts/class_server_results.json``, screenshots beside it. ``--quick`` is a smoke version (3
sessions, one training, a 20 s window: about 2 minutes plus the grace period).

``--browsers elsewhere`` measures the same class as the server meets it when the students' browsers draw their pages
on their own laptops (``benchmarks/wire_client.py``). After the warm-up one Chromium page goes through the click plan
once and every request its page sends is kept (Streamlit's ``rerun_script`` messages, with every widget's value).
The clicking students, but ``--drawn`` of them (default 1, still a Chromium page here, timed on screen), are then
websocket sessions of their own that send those requests again: a page switch as recorded, a slider move as the
recorded request with this student's own slider values, the moved one one step on (towards the middle at either end,
else left or right at random, as the arrow keys), in the slider's own fragment, with the hashes of the messages the
session already holds (as a browser's cache tells the server). An action is timed until the server's
``script_finished`` for it has arrived. Each training session starts its run in Chromium as before; then a websocket
session with the tab's cookies (the same browser to the server) reopens the Train page as filled in and reruns its
timed fragments as the page does (the live panel every second, the owner heartbeat), and the Chromium context
closes. Runs' speeds come from their own records only. What the wire sessions do not do: draw, load static files, or
run a component's JavaScript (none on the measured pages).

Not a test: the numbers depend on the machine and its load (the load average is printed beside them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.wire_client import WireSession, reruns_in  # noqa: E402
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

VIEWPORT = {"width": 1280, "height": 720}
HOME_MARKER = "The learning path"
TRAIN_TITLE = "Train"
SLOTS_RE = re.compile(r"Training slots on this server: (\d+) of (\d+) in use")
# The pages a clicking student visits, and how many slider moves on each before the next page.
CLICK_PLAN = (("Attention, step by step", 3), ("Multi-head attention", 2), ("Tokens & embeddings", 2),
              ("Cost of attention", 2))
# --plan all: every page (Attention maps has no slider: opened only), for hunting faults that only a busy server
# shows (Generate samples text and Translate decodes on each move: a heavier class than the issue's).
ALL_PAGES_PLAN = (*CLICK_PLAN, ("Inside a block", 2), ("Generate", 2), ("Translate", 2), ("Attention maps", 0),
                  ("Model view", 2))
PLANS = {"explore": CLICK_PLAN, "all": ALL_PAGES_PLAN}
WARM_PAGES = (*(title for title, _n in CLICK_PLAN), TRAIN_TITLE)  # and the plan's other pages
# In every page: count the times the app's root says the script stopped running (Streamlit sets the attribute
# once its frontend has applied the run's messages, so the count is what the student sees, not the wire). A
# loaded browser may apply "running" and "stopped" in one render and never show the attribute change, so the
# page also counts the "stopped" messages its code received (the 2 bytes of a ForwardMsg whose
# session_status_changed says the script no longer runs) and the time of the last change to the page.
COUNT_RUN_ENDS = """
window.__tcRunEnds = 0;
window.__tcStatusEnds = 0;
window.__tcLastChange = performance.now();
new MutationObserver((records) => {
  window.__tcLastChange = performance.now();
  for (const r of records) {
    if (r.attributeName === 'data-test-script-state' && r.oldValue !== 'notRunning'
        && r.target.getAttribute('data-test-script-state') === 'notRunning') {
      window.__tcRunEnds++;
    }
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true,
                      attributeOldValue: true});
(() => {
  const Native = window.WebSocket;
  const END = [74, 0];
  class Counting extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        if (ev.data instanceof ArrayBuffer && ev.data.byteLength === END.length) {
          const bytes = new Uint8Array(ev.data);
          if (bytes.every((b, i) => b === END[i])) window.__tcStatusEnds++;
        }
      });
    }
  }
  window.WebSocket = Counting;
})();
"""
# A run that started after the action has ended on screen, no run is going on, no element is still a skeleton
# (Streamlit loads an element's code the first time a page shows one), and every chart is drawn. "Ended on
# screen": the state attribute went back to notRunning, or (drawn in one render) the page received the end and
# has not changed for 100 ms.
SHOWN = """([ends, statusEnds]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning'
      || document.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]')
      || ![...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].every(el => el.querySelector('canvas, svg'))) {
    return false;
  }
  return window.__tcRunEnds > ends
    || (window.__tcStatusEnds > statusEnds && performance.now() - window.__tcLastChange > 100);
}"""
PAGE_COUNTS = "() => [window.__tcRunEnds, window.__tcStatusEnds]"
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
SLIDER_STATE = """el => {
    const n = (v) => (v === null || v === undefined || v === '' ? NaN : Number(v));
    return [n(el.value ?? el.getAttribute('aria-valuenow')), n(el.min ?? el.getAttribute('aria-valuemin')),
            n(el.max ?? el.getAttribute('aria-valuemax'))];
}"""
ACTION_TIMEOUT_S = 60.0
OPEN_TIMEOUT_S = 180.0  # opening the app: the first load of Streamlit's scripts, many browsers at once
DEFAULT_GRACE_S = 60.0  # issue 17's default owner grace period, assumed when TC_OWNER_GRACE_S is not set


def grace_seconds(args) -> float:
    return args.grace if args.grace is not None else DEFAULT_GRACE_S


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# The server's memory, from /proc (Linux; psutil is not a dependency)
# ---------------------------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float | None:
    """Resident set size of one process in MB (VmRSS of /proc/PID/status), None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _all_processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) for every process /proc shows."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        out[int(entry.name)] = (ppid, cmdline)
    return out


def find_server_pid(port: int) -> int | None:
    """The ``streamlit run`` process serving ``port`` on this machine (matched on its command line)."""
    for pid, (_ppid, cmdline) in _all_processes().items():
        server = "streamlit" in cmdline or "timed_server.py" in cmdline  # run as usual, or by this benchmark
        if server and " run " in cmdline and re.search(rf"--server\.port[ =]{port}\b", cmdline):
            return pid
    return None


def children_rss_mb(pid: int) -> tuple[int, float]:
    """(count, total RSS in MB) of every descendant of ``pid`` (training workers, if the server starts any)."""
    kids = _descendants(pid, _all_processes())
    return len(kids), sum(rss_mb(k) or 0.0 for k in kids)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_GROUPS = ("server", "training workers", "Chromium", "benchmark", "other programs")


def _descendants(root: int, procs: dict[int, tuple[int, str]]) -> set[int]:
    found, frontier = set(), [root]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _cmd) in procs.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, in seconds (/proc/PID/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot, all cores (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    at: float
    machine: float
    processes: dict[int, tuple[str, float]]  # pid → (group, CPU seconds)


def cpu_snapshot(server_pid: int | None) -> CpuSnapshot | None:
    """CPU seconds so far of the server, its child processes (the training workers and the forkserver that
    starts them), the Chromium processes this script drives, and the rest of this script's process tree (Python,
    Playwright's driver); None where /proc cannot be read."""
    try:
        procs = _all_processes()
        machine = _machine_busy_seconds()
    except (OSError, ValueError):
        return None
    server = {server_pid} | _descendants(server_pid, procs) if server_pid in procs else set()
    mine = ({os.getpid()} | _descendants(os.getpid(), procs)) - server
    out = {pid: ("server" if pid == server_pid else "training workers", _cpu_seconds(pid)) for pid in server}
    for pid in mine:
        group = "Chromium" if "chrom" in procs[pid][1].split(" ")[0] else "benchmark"
        out[pid] = (group, _cpu_seconds(pid))
    return CpuSnapshot(time.monotonic(), machine, out)


def cpu_split(first: CpuSnapshot | None, last: CpuSnapshot | None) -> dict[str, float] | None:
    """Core-seconds each group used between two snapshots ("other programs": the rest of the machine's busy
    time); a process that ended in between is not counted."""
    if first is None or last is None:
        return None
    used = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid, (group, seconds) in last.processes.items():
        used[group] += max(0.0, seconds - first.processes.get(pid, (group, 0.0))[1])
    used["other programs"] = max(0.0, last.machine - first.machine - sum(used.values()))
    used["seconds"] = last.at - first.at
    return used


# ---------------------------------------------------------------------------------------------------------
# A browser tab that knows when the server finished a rerun: it listens to the page's websocket
# ---------------------------------------------------------------------------------------------------------
class Tab:
    """One browser context (a student's own browser, cookies included) with one page in it.

    An action is timed in two halves. On the wire: the page's websocket carries ``session_status_changed``
    when the server starts running the page's script and when it stops, and ``script_finished`` says whether a
    run only ended early to rerun (``st.rerun``); ``seq`` numbers these events, ``last_start`` and ``last_done``
    are the numbers of the latest start and the latest real end (only small frames are decoded, so listening
    costs next to nothing). On screen: the page counts the times its app root's ``data-test-script-state``
    turned ``notRunning`` (Streamlit's running indicator goes with it), which happens once the frontend has
    applied every message of the run; a loaded browser can be seconds behind the wire.
    """

    def __init__(self, name: str, context, page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.name, self.context, self.page = name, context, page
        self.seq = self.last_start = self.last_done = 0
        self.running = False
        self._early = False
        self._changed = asyncio.Event()
        self._early_status = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
        self._parse = ForwardMsg.FromString
        self.sent: list[bytes | str] | None = None  # what the page sent on its websocket, when recording
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws) -> None:
        ws.on("framereceived", self._on_frame)
        if self.sent is not None:
            ws.on("framesent", lambda payload: self.sent.append(payload))

    @classmethod
    async def open(cls, browser, name: str, record: bool = False) -> Tab:
        """A new context and page; ``record``: keep every frame the page sends (:attr:`sent`, for
        ``--browsers elsewhere``, which replays them without a browser)."""
        context = await browser.new_context(viewport=VIEWPORT)
        await context.add_init_script(COUNT_RUN_ENDS)
        page = await context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_S * 1000)  # a starved browser (--browser-nice) clicks slowly
        tab = cls(name, context, page)
        if record:
            tab.sent = []
        return tab

    def take_sent(self) -> list:
        """The rerun requests the page sent since the last call (``rerun_script`` BackMsgs), then forget them."""
        frames, self.sent[:] = list(self.sent), []
        return reruns_in(frames)

    def _on_frame(self, payload) -> None:
        if isinstance(payload, str) or len(payload) > 160:  # the messages we need are a few bytes
            return
        try:
            msg = self._parse(payload)
        except Exception:  # noqa: BLE001 - a frame that is not a ForwardMsg
            return
        kind = msg.WhichOneof("type")
        if kind == "script_finished":
            self._early = msg.script_finished == self._early_status
        elif kind == "session_status_changed":
            self.seq += 1
            self.running = msg.session_status_changed.script_is_running
            if self.running:
                self.last_start = self.seq
            elif not self._early:
                self.last_done = self.seq
                self._changed.set()
            self._early = False

    async def wait_idle(self, after: int, timeout: float = ACTION_TIMEOUT_S) -> None:
        """Wait until a run that started after event number ``after`` has ended and no run is going on;
        TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not (self.last_start > after and self.last_done > self.last_start and not self.running):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no rerun finished within {timeout:.0f} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))

    async def shown(self, counts_before: list[int], timeout: float = ACTION_TIMEOUT_S) -> None:
        """The page has shown the end of a run (its counts past ``counts_before``, see :data:`SHOWN`), every
        chart is drawn (a canvas or svg in each), and two animation frames later the new content is on screen."""
        await self.page.wait_for_function(SHOWN, arg=counts_before, timeout=timeout * 1000)
        await self.page.evaluate(TWO_FRAMES)

    async def timed(self, action) -> float:
        """Run ``action`` (a coroutine function: a click or a key press) and return the seconds until the rerun
        it caused has ended (on the server, then on screen) and the page is painted."""
        before, counts = self.seq, await self.page.evaluate(PAGE_COUNTS)
        start = time.perf_counter()
        await action()
        await self.wait_idle(before)
        await self.shown(counts)
        return time.perf_counter() - start

    async def exception_texts(self) -> list[str]:
        """The text of each exception box on the page (its first 300 characters)."""
        boxes = self.page.locator('[data-testid="stException"]')
        return [(await boxes.nth(i).inner_text())[:300] for i in range(await boxes.count())]

    async def goto_home(self, url: str) -> None:
        """Open the app (Home) and wait until its first run has ended and the page is painted."""
        before = self.seq
        await self.page.goto(url, timeout=OPEN_TIMEOUT_S * 1000, wait_until="commit")
        await self.page.get_by_text(HOME_MARKER).first.wait_for(timeout=OPEN_TIMEOUT_S * 1000)
        await self.wait_idle(before, OPEN_TIMEOUT_S)
        await self.shown([0, 0], OPEN_TIMEOUT_S)  # a new document counts from 0

    async def open_page(self, title: str) -> float:
        nav = self.page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True)
        seconds = await self.timed(lambda: nav.click(timeout=ACTION_TIMEOUT_S * 1000))
        await self.page.get_by_role("heading", name=title).first.wait_for(timeout=ACTION_TIMEOUT_S * 1000)
        return seconds

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()


# ---------------------------------------------------------------------------------------------------------
# What is measured
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Action:
    session: str
    kind: str  # "page switch" or "slider move"
    seconds: float
    ended: float  # time.monotonic() when it ended


@dataclass
class Run:
    """One training session's run as its page shows it: (monotonic time, step, tokens/s) read once a second."""

    name: str
    samples: list[tuple[float, int, float]] = field(default_factory=list)
    status: str = ""
    owner: str = ""  # the session's tc_browser cookie: its run's folder says the same owner
    logged: list[tuple[float, float]] = field(default_factory=list)  # (monotonic time, tokens/s) from metrics.jsonl

    def logged_tokens_per_s(self, start: float, end: float) -> float | None:
        """The median tokens/s of the run's own step records the server received inside [start, end] (read
        from its metrics.jsonl after the scenario): the same measure as the page's, without the page."""
        values = [tps for t, tps in self.logged if start <= t <= end and tps > 0]
        return statistics.median(values) if values else None

    def steps_per_s(self, start: float, end: float) -> float | None:
        """Steps per second of wall-clock time inside [start, end]: the least-squares slope of the step counter
        against the time it was read (a page that refreshes late shifts the line, not its slope; a page that
        stalls and catches up blurs it, so this is the figure to read with care under load)."""
        inside = [(t, s) for t, s, _tps in self.samples if start <= t <= end]
        if len(inside) < 5 or inside[-1][0] - inside[0][0] < 4.0:
            return None
        mean_t = statistics.fmean(t for t, _s in inside)
        mean_s = statistics.fmean(s for _t, s in inside)
        return (sum((t - mean_t) * (s - mean_s) for t, s in inside)
                / sum((t - mean_t) ** 2 for t, _s in inside))

    def tokens_per_s(self, start: float, end: float) -> float | None:
        """The median of the tokens/s the page showed inside [start, end]: the trainer's own measure (tokens
        through the model per second of its last 20 steps), so the page's delays do not enter it."""
        values = [tps for t, _s, tps in self.samples if start <= t <= end and tps > 0]
        return statistics.median(values) if values else None


@dataclass
class Results:
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] | None = None
    server_pid: int | None = None
    rss_idle: float | None = None
    rss_peak: float | None = None
    rss_after: float | None = None
    workers_after: tuple[int, float] | None = None
    idle_window: tuple[float, float] | None = None
    class_window: tuple[float, float] | None = None
    runs: list[Run] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    action_failures: list[str] = field(default_factory=list)
    exception_texts: list[str] = field(default_factory=list)  # "student, action on page: the box's text"
    slots_before: tuple[int, int] | None = None  # (in use, capacity) before any training
    slots_busy: tuple[int, int] | None = None  # seen by the fresh context while the runs trained
    slot_free_s: list[float] = field(default_factory=list)  # seconds after the close until 1, 2, … slots freed
    slot_timeout: bool = False
    cpu_idle: dict[str, float] | None = None  # core-seconds per group while the first run trained alone
    cpu_class: dict[str, float] | None = None  # … during the class window
    server_reruns: list[dict] = field(default_factory=list)  # benchmarks/timed_server.py's log: one per request
    runs_dir: str | None = None  # the server's TC_RUNS_DIR (a fresh folder), when this script started the server
    drawn_here: list[str] = field(default_factory=list)  # --browsers elsewhere: the students whose page draws here
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# The students
# ---------------------------------------------------------------------------------------------------------
async def read_slots(tab: Tab) -> tuple[int, int] | None:
    caption = tab.page.get_by_text(SLOTS_RE).first
    try:
        text = await caption.inner_text(timeout=30_000)
    except Exception:  # noqa: BLE001 - not on screen (yet)
        return None
    match = SLOTS_RE.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


async def read_step(tab: Tab) -> tuple[int, float] | None:
    """The step and tokens/s the Train page shows for the session's current run."""
    async def metric(label: str) -> str:
        box = tab.page.locator('[data-testid="stMetric"]').filter(has=tab.page.get_by_text(label, exact=True)).first
        return await box.locator('[data-testid="stMetricValue"]').inner_text(timeout=5_000)

    try:
        step = int((await metric("step")).replace(",", ""))
        tokens = float((await metric("tokens/s")).replace(",", ""))
    except Exception:  # noqa: BLE001 - the panel is being redrawn; read again next second
        return None
    return step, tokens


async def start_training(tab: Tab, url: str, task_label: str, preset: str, time_limit: int, run: Run):
    """Open Train, pick the task and size, steps 0 and the time limit (through the page's widgets), press Start;
    ``run.owner`` is then the session's browser id (its run's folder names it). Returns, for a recording tab,
    the page's last full rerun request before Start (the form as filled in, a BackMsg), else None."""
    form = None
    page = tab.page
    await tab.goto_home(url)
    await tab.open_page(TRAIN_TITLE)
    await page.get_by_text(SLOTS_RE).first.wait_for(timeout=ACTION_TIMEOUT_S * 1000)
    task = page.get_by_label("Task").first
    if task_label not in await task.input_value():
        await task.click()
        await tab.timed(lambda: page.get_by_role("option", name=task_label).click())
    size = page.get_by_role("radio", name=re.compile(rf"^{re.escape(preset)} \("))
    if not await size.is_checked():
        await tab.timed(lambda: size.check())
    for name, value in ((re.compile(r"^steps \("), 0), (re.compile(r"^time limit in seconds"), time_limit)):
        box = page.get_by_role("spinbutton", name=name)
        await box.fill(str(value))
        await tab.timed(lambda box=box: box.press("Enter"))
    refused = page.get_by_text(re.compile(r"was refused"))
    if await refused.count():
        raise RuntimeError(f"{tab.name}: the page refused the settings: {await refused.first.inner_text()}")
    if tab.sent is not None:  # the form as filled in, without the Start click: what a wire session reopens
        full = [m for m in tab.take_sent() if not m.rerun_script.fragment_id]
        form = full[-1] if full else None
    await page.get_by_role("button", name="Start training").click()
    cookies = await tab.context.cookies()
    run.owner = next((c["value"] for c in cookies if c["name"] == "tc_browser"), "")
    status = page.get_by_text(re.compile(r"^Status: "))
    refusal = page.locator('[data-testid="stAlert"]').filter(has_text=re.compile(r"busy|cannot|refused|needs about"))
    await status.or_(refusal).first.wait_for(timeout=ACTION_TIMEOUT_S * 1000)
    if await refusal.count():
        raise RuntimeError(f"{tab.name}: the run did not start: {await refusal.first.inner_text()}")
    return form


async def watch_run(tab: Tab, run: Run, stop: asyncio.Event) -> None:
    """Read the run's step counter once a second until ``stop`` is set."""
    while not stop.is_set():
        reading = await read_step(tab)
        if reading is not None:
            run.samples.append((time.monotonic(), *reading))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    with contextlib.suppress(Exception):
        status = tab.page.get_by_text(re.compile(r"^Status: ")).first
        run.status = (await status.inner_text(timeout=5_000)).splitlines()[0]


async def screenshot(tab: Tab, name: str, show=None) -> None:
    """What the session sees (scrolled to ``show``, a locator), into test-artifacts/ (a missing picture is not a
    failure of the benchmark)."""
    with contextlib.suppress(Exception):
        ARTIFACTS.mkdir(exist_ok=True)
        if show is not None:
            await show.first.scroll_into_view_if_needed(timeout=10_000)
        await tab.page.screenshot(path=str(ARTIFACTS / name), timeout=20_000)


async def move_slider(tab: Tab, index: int) -> float:
    """Move the ``index``-th enabled slider of the page one step (towards the middle at either end)."""
    sliders = tab.page.locator('[data-testid="stSlider"]').get_by_role("slider")
    await sliders.first.wait_for(timeout=30_000)
    enabled = [sliders.nth(i) for i in range(await sliders.count())]
    enabled = [s for s in enabled if await s.is_enabled()]
    if not enabled:
        raise RuntimeError(f"{tab.name}: no slider on the page")
    slider = enabled[index % len(enabled)]
    value, low, high = await slider.evaluate(SLIDER_STATE)
    key = "ArrowLeft" if value == value and high == high and value >= high else "ArrowRight"  # NaN-safe
    if key == "ArrowRight" and value == value and low == low and value > low and random.random() < 0.5:
        key = "ArrowLeft"
    await slider.focus()
    return await tab.timed(lambda: tab.page.keyboard.press(key))


class BrowserStudent:
    """A clicking student whose Chromium page draws here (the issue's scenario)."""

    def __init__(self, tab: Tab, url: str) -> None:
        self.tab, self.url, self.name = tab, url, tab.name
        self.page = "Home"

    async def open(self) -> None:
        await self.tab.goto_home(self.url)
        self.page = "Home"

    async def switch(self, title: str) -> float:
        self.page = title
        return await self.tab.open_page(title)

    async def move(self, _title: str, index: int) -> float:
        return await move_slider(self.tab, index)

    async def recover(self) -> None:
        await self.tab.goto_home(self.url)  # start again from a fresh page

    async def exception_boxes(self) -> list[str]:
        return await self.tab.exception_texts()


@dataclass
class Recording:
    """What one Chromium page sent through the click plan (``rerun_script`` BackMsgs), for wire students."""

    home: object
    pages: dict[str, tuple[object, list[object]]]  # title → (its page switch, one request per slider move)


async def record_plan(browser, url: str, plan=CLICK_PLAN) -> Recording:
    """One Chromium session goes through the click ``plan`` once; the requests its page sent are kept."""
    tab = await Tab.open(browser, "recorder", record=True)
    try:
        await tab.goto_home(url)
        home = [m for m in tab.take_sent() if not m.rerun_script.fragment_id][-1]
        pages = {}
        for title, moves in plan:
            await tab.open_page(title)
            switch = [m for m in tab.take_sent() if m.rerun_script.page_script_hash][-1]
            templates = []
            for i in range(moves):
                try:
                    await move_slider(tab, i)
                except RuntimeError:  # no enabled slider: the students only open the page
                    log(f"recorder: no slider to move on {title}")
                    break
                templates.append(tab.take_sent()[-1])
            pages[title] = (switch, templates)
    finally:
        await tab.close()
    return Recording(home, pages)


class WireStudent:
    """A clicking student whose browser draws elsewhere (``--browsers elsewhere``): the recorded requests over a
    websocket of its own, its sliders walked one step at a time as a browser's arrow keys do, nothing drawn."""

    def __init__(self, name: str, url: str, recording: Recording, seed: int) -> None:
        self.name, self.url, self.recording = name, url, recording
        self.session = WireSession(name, url)
        self.rng = random.Random(seed)
        self._counted = 0
        self.page = "Home"

    async def open(self) -> None:
        await self.session.connect()
        await self.session.rerun(self.recording.home, ACTION_TIMEOUT_S)
        self.page = "Home"

    async def switch(self, title: str) -> float:
        self.page = title
        return await self.session.switch_page(self.recording.pages[title][0], ACTION_TIMEOUT_S)

    async def move(self, title: str, index: int) -> float:
        templates = self.recording.pages[title][1]
        return await self.session.move_slider(templates[index % len(templates)], index, self.rng, ACTION_TIMEOUT_S)

    async def recover(self) -> None:
        await self.close()
        self.session = WireSession(self.name, self.url)
        await self.open()

    async def exception_boxes(self) -> list[str]:
        new, self._counted = self.session.exceptions[self._counted:], len(self.session.exceptions)
        sliders = {i.rsplit("-", 1)[-1]: list(v.double_array_value.data) or list(v.string_array_value.data)
                   for i, v in self.session.values.items()}
        return [f"{text}; sliders {sliders}" for text in new]

    async def close(self) -> None:
        await self.session.close()
        self._counted = 0


async def click_around(student, offset: int, think: float, stop: asyncio.Event,
                       window: list[float | None], results: Results, ready: asyncio.Event,
                       click_plan=CLICK_PLAN) -> None:
    """A student on the Explore pages: page switch, slider moves, next page…, until ``stop`` is set.

    ``student``: a :class:`BrowserStudent` or a :class:`WireStudent`. ``ready`` is set once the student has
    opened the app and a first page (the class starts with everyone on a page). Actions that start inside the
    window (``window[0]`` set, ``stop`` not yet) are recorded, however long they take; one under way when
    ``stop`` is set is finished, then the student stops.
    """
    def in_window(started: float) -> bool:
        return window[0] is not None and started >= window[0] and (window[1] is None or started <= window[1])

    async def act(kind: str, action) -> None:
        started = time.monotonic()
        try:
            seconds = await action()
        except Exception as exc:  # noqa: BLE001 - a slow or failed action is a result, not the end
            if in_window(started):
                results.action_failures.append(f"{student.name}, {kind}: {type(exc).__name__}: {str(exc)[:120]}")
            with contextlib.suppress(Exception):
                await student.recover()
            raise
        if in_window(started):
            results.actions.append(Action(student.name, kind, seconds, time.monotonic()))
            boxes = await student.exception_boxes()
            results.exception_texts.extend(f"{student.name}, {kind} on {student.page}: {text}" for text in boxes)

    plan = click_plan[offset % len(click_plan):] + click_plan[:offset % len(click_plan)]
    on_page = None
    try:
        await student.open()
        await student.switch(plan[0][0])
        on_page = plan[0][0]
    except Exception as exc:  # noqa: BLE001 - counted; the loop below starts again from Home
        results.action_failures.append(f"{student.name} opening the app: {type(exc).__name__}: {str(exc)[:120]}")
    finally:
        ready.set()
    while not stop.is_set():
        for title, moves in plan:
            if stop.is_set():
                break
            try:
                if on_page != title:
                    on_page = None
                    await act("page switch", lambda title=title: student.switch(title))
                    on_page = title
                for i in range(moves):
                    await asyncio.sleep(think * random.uniform(0.5, 1.5))
                    if stop.is_set():
                        break
                    await act("slider move", lambda i=i, title=title: student.move(title, i))
            except Exception:  # noqa: BLE001 - counted in act(); go on with the next page
                on_page = None
            await asyncio.sleep(think * random.uniform(0.5, 1.5))


async def hand_over(tab: Tab, form, url: str) -> WireSession:
    """``--browsers elsewhere``: a training session's owner goes on without a browser here. A wire session with
    the tab's cookies (so the same browser to the server) reopens the Train page as the tab had filled it in,
    reruns its timed fragments as the page would (the live panel every second, the owner heartbeat), and the
    Chromium context closes."""
    if form is None:
        raise RuntimeError(f"{tab.name}: no Train page request was recorded")
    cookies = {c["name"]: c["value"] for c in await tab.context.cookies()}
    session = WireSession(tab.name, url, cookies)
    await session.connect()
    await session.switch_page(form, ACTION_TIMEOUT_S)
    session.keep_fragments_running()
    await tab.close()
    return session


# ---------------------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------------------
async def scenario(url: str, args, results: Results) -> None:
    from playwright.async_api import async_playwright

    stop_watch = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(results, stop_watch, args.browser_nice))
    tabs: list[Tab] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                await run_phases(browser, url, args, results, tabs)
            finally:
                for tab in tabs:
                    await tab.close()
                with contextlib.suppress(Exception):
                    await browser.close()
    finally:
        stop_watch.set()
        await sampler


def renice_browsers(nice: int) -> None:
    """Set every Chromium process this script started to ``nice`` (Chromium sets its processes' priorities
    itself when it may, so a ``nice`` at launch does not hold; this is done again every second)."""
    procs = _all_processes()
    for pid in _descendants(os.getpid(), procs):
        if "chrom" not in procs[pid][1].split(" ")[0]:
            continue
        # With the kernel's autogroup scheduling (sched_autogroup_enabled), a nice level counts only inside the
        # process's session group, and Chromium's processes run in sessions of their own: set the group's too.
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(str(nice))
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():  # Linux keeps a nice level per thread
                tid = int(task.name)
                with contextlib.suppress(OSError):
                    if os.getpriority(os.PRIO_PROCESS, tid) != nice:
                        os.setpriority(os.PRIO_PROCESS, tid, nice)


async def sample_rss(results: Results, stop: asyncio.Event, browser_nice: int = 0) -> None:
    """The server's RSS once a second, for its peak (and the browsers' priority, with ``--browser-nice``)."""
    while not stop.is_set():
        if results.server_pid is not None:
            value = rss_mb(results.server_pid)
            if value is not None:
                results.rss_peak = max(results.rss_peak or 0.0, value)
        if browser_nice > 0:
            renice_browsers(browser_nice)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def median_rss(pid: int | None, n: int = 3) -> float | None:
    if pid is None:
        return None
    values = []
    for i in range(n):
        value = rss_mb(pid)
        if value is not None:
            values.append(value)
        if i < n - 1:
            time.sleep(1.0)
    return statistics.median(values) if values else None


async def run_phases(browser, url: str, args, results: Results, tabs: list[Tab]) -> None:
    n_training = min(args.training, args.sessions)
    n_clicking = args.sessions - n_training
    elsewhere = args.browsers == "elsewhere"
    # Long enough that the runs still train when their owners leave, and that the grace period (not the time
    # limit) ends them: setup, alone, the others' start, the window, the grace period, a margin.
    time_limit = int(30 + args.idle_window + OPEN_TIMEOUT_S + 15 + args.window + 30 + grace_seconds(args) + 60)

    # 1. Idle: every page visited once, then the server's memory.
    log("warm-up: one session visits every page")
    warm = await Tab.open(browser, "warm-up")
    tabs.append(warm)
    await warm.goto_home(url)
    await asyncio.sleep(3)  # app.py imports the heavy modules in the background while Home shows
    for title in dict.fromkeys((*WARM_PAGES, *(title for title, _n in PLANS[args.plan]))):
        await warm.open_page(title)
    results.slots_before = await read_slots(warm)
    await warm.close()
    tabs.remove(warm)
    recording = None
    if elsewhere and n_clicking:
        log("browsers elsewhere: one session records the requests of the click plan")
        recording = await record_plan(browser, url, PLANS[args.plan])
    await asyncio.sleep(5)
    results.rss_idle = median_rss(results.server_pid)
    log(f"idle: server RSS {fmt(results.rss_idle, '{:.0f} MB')}, slots {results.slots_before}")

    # 2. One run alone.
    trainers = [await Tab.open(browser, f"training {i + 1}", record=elsewhere) for i in range(n_training)]
    tabs.extend(trainers)
    runs = [Run(t.name) for t in trainers]
    results.runs = runs
    owners: list[WireSession] = []  # --browsers elsewhere: the training sessions, once their tabs have closed
    stop_watch = asyncio.Event()
    watchers = []

    async def start(tab: Tab, run: Run) -> None:
        form = await start_training(tab, url, args.task_label, args.preset, time_limit, run)
        if elsewhere:
            owners.append(await hand_over(tab, form, url))
            tabs.remove(tab)
        else:
            watchers.append(asyncio.create_task(watch_run(tab, run, stop_watch)))

    def first_steps(run: Run) -> bool:
        if elsewhere:
            read_run_logs(results)
            return bool(run.logged)
        return any(step > 0 for _t, step, _tps in run.samples)

    def speed(run: Run, window: tuple[float, float]) -> float | None:
        if elsewhere:
            read_run_logs(results)
            return run.logged_tokens_per_s(*window)
        return run.tokens_per_s(*window)

    try:
        if trainers:
            log(f"training 1 starts {args.task_label} {args.preset} (time limit {time_limit} s) alone")
            try:
                await start(trainers[0], runs[0])
            except Exception as exc:  # noqa: BLE001 - measure the rest without the idle figure
                results.errors.append(f"training 1 did not start: {type(exc).__name__}: {exc}".splitlines()[0][:300])
            else:
                deadline = time.monotonic() + 90  # past the first steps (data, allocation)
                while time.monotonic() < deadline and not first_steps(runs[0]):
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)
                start_at, cpu_start = time.monotonic(), cpu_snapshot(results.server_pid)
                await asyncio.sleep(args.idle_window)
                results.idle_window = (start_at, time.monotonic())
                results.cpu_idle = cpu_split(cpu_start, cpu_snapshot(results.server_pid))
                log(f"alone: {fmt(speed(runs[0], results.idle_window), '{:,.0f} tokens/s')}")

        # 3. The class: the other runs start, then the others click.
        for i, (tab, run) in enumerate(zip(trainers[1:], runs[1:], strict=True), start=2):
            log(f"training {i} starts the same run")
            try:
                await start(tab, run)
            except Exception as exc:  # noqa: BLE001 - the class goes on with the runs that started
                results.errors.append(f"training {i} did not start: {type(exc).__name__}: {exc}".splitlines()[0][:300])
        stop_clicking = asyncio.Event()
        window: list[float | None] = [None, None]  # start and end of the class window
        n_drawn = min(args.drawn, n_clicking) if elsewhere else n_clicking
        clickers = [await Tab.open(browser, f"student {i + 1}") for i in range(n_drawn)]
        tabs.extend(clickers)
        students = [BrowserStudent(tab, url) for tab in clickers]
        students += [WireStudent(f"student {i + 1}", url, recording, seed=i) for i in range(n_drawn, n_clicking)]
        if elsewhere:
            results.drawn_here = [tab.name for tab in clickers]
        ready = [asyncio.Event() for _ in students]
        log(f"{n_clicking} sessions start clicking" + (f" ({n_clicking - n_drawn} over the websocket, nothing drawn; "
                                                       f"{n_drawn} in Chromium here)" if elsewhere else ""))
        plan = PLANS[args.plan]
        if recording is not None:  # the moves the recorder could make on each page
            plan = tuple((title, len(recording.pages[title][1])) for title, _n in plan)
        clicking = [asyncio.create_task(click_around(student, i, args.think, stop_clicking, window, results, ev, plan))
                    for i, (student, ev) in enumerate(zip(students, ready, strict=True))]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in ready)), OPEN_TIMEOUT_S + 10)
        await asyncio.sleep(5)  # every clicker past its first page
        window[0], cpu_start = time.monotonic(), cpu_snapshot(results.server_pid)
        log(f"class window: {args.window:.0f} s")
        await asyncio.sleep(args.window)
        window[1] = time.monotonic()
        stop_clicking.set()
        results.class_window = (window[0], window[1])
        results.cpu_class = cpu_split(cpu_start, cpu_snapshot(results.server_pid))
        if trainers and not elsewhere:
            await screenshot(trainers[0], "class_server_training.png",
                             trainers[0].page.locator('[data-testid="stMetric"]'))
        if clickers:
            await screenshot(clickers[0], "class_server_student.png")
        crashed = [t for t in clicking if t.done() and t.exception() is not None]
        for task in crashed:
            results.errors.append(f"a clicking session stopped: {task.exception()!r}"[:300])
        log("class window over; runs " + ", ".join(fmt(speed(r, results.class_window), '{:,.0f} tokens/s')
                                                   for r in runs) + "; the actions under way finish")
        _done, pending = await asyncio.wait(clicking, timeout=2 * ACTION_TIMEOUT_S + 15)
        for task in pending:
            task.cancel()
        await asyncio.gather(*clicking, return_exceptions=True)
        log(f"{len(results.actions)} actions timed")
        for student in students:
            if isinstance(student, WireStudent):
                await student.close()
            else:
                await student.tab.close()
                tabs.remove(student.tab)
        log("the clicking sessions closed")
    finally:
        stop_watch.set()
        await asyncio.gather(*watchers, return_exceptions=True)

    # 4. Slots: the training sessions' owners leave; a fresh session watches the slots free.
    if trainers:
        observer = await Tab.open(browser, "observer")
        tabs.append(observer)
        await observer.goto_home(url)
        await observer.open_page(TRAIN_TITLE)
        results.slots_busy = await read_slots(observer)
        busy = results.slots_busy[0] if results.slots_busy else n_training
        log(f"slots while training: {results.slots_busy}; closing the training sessions")
        closed = time.monotonic()
        for tab in [t for t in trainers if t in tabs]:
            await tab.close()
            tabs.remove(tab)
        for session in owners:
            await session.close()
        deadline = closed + grace_seconds(args) + 90.0
        await observer.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        freed = reruns = reloads = 0
        while time.monotonic() < deadline and freed < busy:
            slots = await read_slots(observer)
            if slots is not None:
                while freed < busy and slots[0] <= busy - freed - 1:
                    freed += 1
                    results.slot_free_s.append(time.monotonic() - closed)
            if freed >= busy:
                break
            await asyncio.sleep(0.25)
            try:
                await observer.timed(lambda: observer.page.keyboard.press("r"))  # Streamlit's rerun key
                reruns += 1
            except Exception:  # noqa: BLE001 - fall back to a reload
                reloads += 1
                await observer.page.reload()
                await observer.page.get_by_text(SLOTS_RE).first.wait_for(timeout=ACTION_TIMEOUT_S * 1000)
        results.slot_timeout = freed < busy
        await screenshot(observer, "class_server_slots.png", observer.page.get_by_text(SLOTS_RE))
        log("slots free after " + ", ".join(f"{s:.1f} s" for s in results.slot_free_s)
            + (" (timed out)" if results.slot_timeout else "") + f"; the observer reran {reruns}×, reloaded {reloads}×")
        await observer.close()
        tabs.remove(observer)
    for session in owners:  # a step that failed above may have left one open
        await session.close()

    # 5. After: no session left; the server's memory again.
    log(f"every session closed; {args.settle:.0f} s until the memory is read")
    await asyncio.sleep(args.settle)
    results.rss_after = median_rss(results.server_pid)
    if results.server_pid is not None:
        results.workers_after = children_rss_mb(results.server_pid)


# ---------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------
def fmt(value, pattern: str = "{:.2f}", missing: str = "—") -> str:
    return missing if value is None else pattern.format(value)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0 < q < 1) with linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def read_run_logs(results: Results) -> None:
    """Each run's tokens/s from its own step records (``<runs_dir>/<run_id>/metrics.jsonl``, found by the owner
    its ``run.json`` names; ``at`` is the Unix time the server received a record, turned into this script's
    monotonic clock)."""
    if results.runs_dir is None:  # --url: the server's runs folder is not known here
        return
    offset = time.time() - time.monotonic()
    folders = {}
    for path in Path(results.runs_dir).glob("*/run.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            folders[json.loads(path.read_text(encoding="utf-8"))["owner"]] = path.parent
    for run in results.runs:
        folder = folders.get(run.owner)
        if not run.owner or folder is None:
            continue
        run.logged = []  # read again whole: this is called during the scenario too
        with contextlib.suppress(OSError):
            for line in (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    record = json.loads(line)
                    if record["kind"] == "step":
                        run.logged.append((float(record["at"]) - offset, float(record["tokens_per_s"])))


def read_rerun_log(path: Path) -> list[dict]:
    """The lines :mod:`benchmarks.timed_server` wrote (one per rerun request; a torn last line is skipped)."""
    rows = []
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
    return rows


def server_rerun_groups(rows: list[dict], window: tuple[float, float]) -> dict[str, list[float]]:
    """Seconds from request to the end of the run that served it, for requests received inside ``window``:
    the clicking students' (Explore pages), the training tabs' automatic ones (live panel, heartbeat)."""
    groups: dict[str, list[float]] = {"students": [], "automatic": []}
    for row in rows:
        if window[0] <= row.get("received", -1.0) <= window[1]:
            group = "automatic" if row.get("auto") else ("students" if row.get("page") != "train" else None)
            if group:
                groups[group].append(row["ended"] - row["received"])
    return groups


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def print_table(args, results: Results) -> None:
    n_training = min(args.training, args.sessions)
    n_clicking = args.sessions - n_training
    load_after = results.load_after or os.getloadavg()
    cores = os.cpu_count()
    grace_text = (f"{args.grace:g} s" if args.grace is not None
                  else f"not set: the server's default, {DEFAULT_GRACE_S:g} s assumed")
    print()
    elsewhere = args.browsers == "elsewhere"
    sessions = (f"sessions whose browsers draw elsewhere but {len(results.drawn_here)} (requests recorded from one "
                "Chromium page, replayed over the websocket; reruns timed until the server's last message)" if elsewhere
                else "browser sessions (Chromium contexts, 1280×720)")
    print(f"Class scenario: {args.sessions} {sessions}, {n_training} training "
          f"{args.task_label} {args.preset}, {n_clicking} clicking (pause {args.think:g} s); window "
          f"{args.window:g} s; owner grace {grace_text}; {cores} CPU cores"
          + ("" if elsewhere else f"; Chromium at nice {args.browser_nice}" if args.browser_nice > 0
             else "; Chromium on the same cores"))
    print(f"Load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in results.load_before)} before, "
          f"{', '.join(f'{x:.2f}' for x in load_after)} after")
    env = {k: v for k, v in os.environ.items() if k.startswith("TC_")}
    if env:
        print("Server environment: " + ", ".join(f"{k}={v}" for k, v in sorted(env.items())))
    print()
    print("| measure | measured | target | met |")
    print("| --- | ---: | ---: | :---: |")

    seconds = [a.seconds for a in results.actions]
    if seconds:
        p50, p95 = statistics.median(seconds), percentile(seconds, 0.95)
        until = ("the server's last message reached the student (on screen for those drawn here)" if elsewhere
                 else "on screen")
        print(f"| rerun p50, all actions ({len(seconds)}: page switches and slider moves), until {until} | "
              f"{p50:.2f} s | | |")
        print(f"| rerun p95, all actions | {p95:.2f} s | ≤ 3 s | {verdict(p95 <= 3.0)} |")
        for kind, plural in (("slider move", "slider moves"), ("page switch", "page switches")):
            some = [a.seconds for a in results.actions if a.kind == kind]
            if some:
                print(f"| {plural} ({len(some)}): p50 / p95 / max | {statistics.median(some):.2f} / "
                      f"{percentile(some, 0.95):.2f} / {max(some):.2f} s | | |")
        drawn = [a.seconds for a in results.actions if a.session in results.drawn_here]
        if drawn:
            print(f"| of which the {len(results.drawn_here)} student(s) whose Chromium page draws on this machine "
                  f"({len(drawn)} actions), on screen: p50 / p95 / max | {statistics.median(drawn):.2f} / "
                  f"{percentile(drawn, 0.95):.2f} / {max(drawn):.2f} s | | |")
    else:
        print("| rerun p95 | — (no action timed) | ≤ 3 s | — |")
    if results.server_reruns and results.class_window:
        groups = server_rerun_groups(results.server_reruns, results.class_window)
        some = groups["students"]
        if some:
            p95 = percentile(some, 0.95)
            print(f"| the server's part of the students' reruns ({len(some)} requests: received → run ended), "
                  f"p50 / p95 / max | {statistics.median(some):.2f} / {p95:.2f} / {max(some):.2f} s | ≤ 3 s | "
                  f"{verdict(p95 <= 3.0)} |")
        some = groups["automatic"]
        if some:
            print(f"| the server's part of the training tabs' automatic reruns ({len(some)}: live panel, "
                  f"heartbeat), p50 / p95 | {statistics.median(some):.2f} / {percentile(some, 0.95):.2f} s | | |")
    if results.action_failures:
        print(f"| actions that failed or took over {ACTION_TIMEOUT_S:.0f} s | {len(results.action_failures)} | 0 | "
              f"{verdict(False)} |")
    boxes = len(results.exception_texts)
    print(f"| exception boxes seen after the actions | {boxes} | 0 | {verdict(boxes == 0)} |")

    first = results.runs[0] if results.runs and results.idle_window else None
    idle_tokens = first.tokens_per_s(*results.idle_window) if first else None
    idle_steps = first.steps_per_s(*results.idle_window) if first else None
    for run in results.runs:
        tokens = run.tokens_per_s(*results.class_window) if results.class_window else None
        steps = run.steps_per_s(*results.class_window) if results.class_window else None
        share = tokens / idle_tokens if tokens is not None and idle_tokens else None
        if not elsewhere:  # no page here to read
            print(f"| {run.name}: tokens/s on the page, run 1 alone → this run while {n_clicking} click | "
                  f"{fmt(idle_tokens, '{:,.0f}')} → {fmt(tokens, '{:,.0f}')} = {fmt(share, '{:.0%}')} | ≥ 50 % | "
                  f"{verdict(None if share is None else share >= 0.5)} |")
            print(f"| {run.name}: steps/s of wall-clock time (step counter) | {fmt(idle_steps)} → {fmt(steps)} | | |")
        if first is not None and run.logged and results.class_window:
            logged_idle = first.logged_tokens_per_s(*results.idle_window)
            logged = run.logged_tokens_per_s(*results.class_window)
            share = logged / logged_idle if logged is not None and logged_idle else None
            print(f"| {run.name}: tokens/s from the run's own records on the server (no page in between) | "
                  f"{fmt(logged_idle, '{:,.0f}')} → {fmt(logged, '{:,.0f}')} = {fmt(share, '{:.0%}')} | ≥ 50 % | "
                  f"{verdict(None if share is None else share >= 0.5)} |")

    if results.slots_busy is not None:
        print(f"| slots in use while training (before: {fmt_slots(results.slots_before)}) | "
              f"{fmt_slots(results.slots_busy)} | | |")
    if results.slot_free_s or results.slot_timeout:
        grace = grace_seconds(args)
        last = results.slot_free_s[-1] if results.slot_free_s and not results.slot_timeout else None
        freed = ", ".join(f"{s:.1f}" for s in results.slot_free_s) or "none"
        print(f"| slot free after X s (grace {grace_text}); each slot | {freed} s"
              f"{' (then timed out)' if results.slot_timeout else ''} | ≤ grace + 5 s = {grace + 5:g} s | "
              f"{verdict(None if last is None and not results.slot_timeout else (last is not None and last <= grace + 5))} |")

    for label, used in (("the first run alone", results.cpu_idle), ("the class window", results.cpu_class)):
        if used:
            print(f"| CPU in {label} ({used['seconds']:.0f} s × {cores} cores), core-seconds: "
                  + ", ".join(CPU_GROUPS) + " | " + " / ".join(f"{used[g]:.0f}" for g in CPU_GROUPS) + " | | |")

    if results.server_pid is None:
        print("| server RSS | — (the server's process is not on this machine) | | |")
    else:
        diff = results.rss_after - results.rss_idle if None not in (results.rss_after, results.rss_idle) else None
        print(f"| server RSS: idle → peak → {args.settle:g} s after the runs ended | {fmt(results.rss_idle, '{:.0f}')} → "
              f"{fmt(results.rss_peak, '{:.0f}')} → {fmt(results.rss_after, '{:.0f}')} MB "
              f"({fmt(diff, '{:+.0f}')} MB) | within 100 MB of idle | {verdict(None if diff is None else diff <= 100)} |")
        if results.workers_after is not None:
            count, mb = results.workers_after
            print(f"| server's child processes after the runs ended | {count} ({mb:.0f} MB) | | |")
    for failure in results.action_failures[:10]:
        print(f"- failed action: {failure}")
    for text in results.exception_texts[:10]:  # the whole text in the results file
        print("- exception box: " + " ".join(text.split())[:600])
    for error in results.errors:
        print(f"- step failed: {error}")


def fmt_slots(slots: tuple[int, int] | None) -> str:
    return "—" if slots is None else f"{slots[0]} of {slots[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke version: 3 sessions, 1 training, a 20 s window, 8 s alone, 10 s settle")
    parser.add_argument("--url", help="measure this running server instead of starting one (RSS only when it "
                        "runs on this machine)")
    parser.add_argument("--server-pid", type=int, help="the running server's process id, for its RSS")
    parser.add_argument("--grace", type=float, help="owner grace period in s, passed as TC_OWNER_GRACE_S to the "
                        "server this script starts (default: TC_OWNER_GRACE_S of this shell, else the server's)")
    parser.add_argument("--sessions", type=int, help="browser sessions in all (default 10)")
    parser.add_argument("--training", type=int, help="of which training (default 2)")
    parser.add_argument("--window", type=float, help="seconds of the class measurement (default 60)")
    parser.add_argument("--idle-window", type=float, help="seconds the first run is measured alone (default 20)")
    parser.add_argument("--settle", type=float, help="seconds after the last session closed until RSS is read "
                        "(default 20)")
    parser.add_argument("--think", type=float, default=1.0, help="a student's mean pause between actions, s")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="keep Chromium's processes at this nice level (1-19): in a class the browsers run on the "
                        "students' own computers, so that the server here gets the CPU first (default 0: as the issue "
                        "measured)")
    parser.add_argument("--browsers", choices=("here", "elsewhere"), default="here",
                        help="here (default, as the issue measured): every session is a Chromium context on this "
                        "machine; elsewhere: as in a class, the browsers draw on the students' laptops: the clicking "
                        "students replay, over the app's websocket, the requests one Chromium page recorded (their "
                        "sliders walked one step at a time), the training sessions go on over the websocket once "
                        "their run has started, and reruns are timed until the server's last message for them")
    parser.add_argument("--drawn", type=int, default=1,
                        help="with --browsers elsewhere: how many of the clicking students stay Chromium pages drawing "
                        "on this machine, their actions timed on screen as with --browsers here (default 1)")
    parser.add_argument("--plan", choices=tuple(PLANS), default="explore",
                        help="the pages the students click through: explore (default: Attention step by step, "
                        "Multi-head, Tokens, Cost, as the issue's class) or all (every page with a slider)")
    parser.add_argument("--task-label", default="Tiny Shakespeare (characters)", help="Train's Task, as listed")
    parser.add_argument("--preset", default="tiny", help="Train's Size")
    args = parser.parse_args()
    quick = {"sessions": 3, "training": 1, "window": 20.0, "idle_window": 8.0, "settle": 10.0}
    full = {"sessions": 10, "training": 2, "window": 60.0, "idle_window": 20.0, "settle": 20.0}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.grace is not None:
        os.environ["TC_OWNER_GRACE_S"] = f"{args.grace:g}"
    elif os.environ.get("TC_OWNER_GRACE_S"):
        with contextlib.suppress(ValueError):
            args.grace = float(os.environ["TC_OWNER_GRACE_S"])
    if not Path(CHROMIUM).exists():
        print(f"Chromium is not at {CHROMIUM} (apt-get install -y chromium)", file=sys.stderr)
        return 2

    results = Results(load_before=os.getloadavg())
    started = time.monotonic()
    rerun_log = ARTIFACTS / "class_server_reruns.jsonl"  # the server's own times (not with --url)
    try:
        with contextlib.ExitStack() as stack:
            if args.url:
                url = args.url.rstrip("/")
                port = urlparse(url).port
                local = urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")
                results.server_pid = args.server_pid or (find_server_pid(port) if local and port else None)
            else:
                ARTIFACTS.mkdir(exist_ok=True)
                rerun_log.unlink(missing_ok=True)
                results.runs_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="class_server_runs_"))
                url = stack.enter_context(streamlit_server(
                    ARTIFACTS / "class_server_streamlit.log",
                    env={"TC_RERUN_LOG": str(rerun_log), "TC_RUNS_DIR": results.runs_dir},
                    launcher=(str(Path(__file__).with_name("timed_server.py")),)))
                results.server_pid = find_server_pid(urlparse(url).port)
            log(f"server {url} (pid {results.server_pid})")
            try:
                asyncio.run(scenario(url, args, results))
            finally:
                if results.runs_dir:
                    read_run_logs(results)  # before the folder goes
    except KeyboardInterrupt:
        results.errors.append("interrupted")
    except BaseException as exc:  # noqa: BLE001 - print what was measured, then say what failed
        results.errors.append(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        traceback.print_exc()
    finally:
        results.load_after = os.getloadavg()
        results.server_reruns = read_rerun_log(rerun_log) if not args.url else []
        print_table(args, results)
        with contextlib.suppress(OSError, TypeError, ValueError):
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "class_server_results.json").write_text(json.dumps(asdict(results), indent=1))
            print(f"Every timing and reading: {ARTIFACTS / 'class_server_results.json'}")
        print(f"\n(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
