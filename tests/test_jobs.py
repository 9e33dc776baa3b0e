"""The job manager (trainers.jobs) and the training worker (trainers.worker).

The manager's rules (slots, jobs per browser, the grace period, cursors, run folders) are tested with fake
workers and a fake clock, so they run in milliseconds; the worker itself with real processes training the AddSub
tiny model for a few steps (the first forkserver start costs a few seconds, later ones less).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from trainers.checkpoint import load_checkpoint
from trainers.jobs import GRACE_MESSAGE, RESTART_MESSAGE, JobManager, thin_steps
from trainers.presets import preset_config
from trainers.worker import ProcessWorker


class FakeWorker:
    """The worker interface (start, poll, stop, kill, alive, join), driven by the test: ``emit_steps(n)`` queues
    n step records; ``stop()`` queues a "stopped" end record unless ``deaf`` (then only ``kill()`` ends it)."""

    def __init__(self, config, run_dir, memory_mb) -> None:
        self.config, self.run_dir, self.memory_mb = config, run_dir, memory_mb
        self.queue: list[dict] = []
        self.step = 0
        self.ended = False
        self.deaf = False
        self.stop_calls = 0
        self.killed = False

    def start(self) -> None:
        self.queue.append({"kind": "status", "status": "running", "message": "Loading the data and building the model…"})

    def emit_steps(self, n: int) -> None:
        for _ in range(n):
            self.step += 1
            self.queue.append({"kind": "step", "step": self.step, "train_loss": 3.0 / self.step, "elapsed_s": 0.1 * self.step,
                               "tokens_per_s": 100.0, "progress": 0.0, "max_steps": None, "lr": 1e-3,
                               "tokens_seen": 10 * self.step, "grad_norm": 1.0})

    def finish(self, status: str = "finished", message: str = "Finished.") -> None:
        self.queue.append({"kind": "end", "status": status, "message": message, "summary": {"steps": self.step},
                           "checkpoint": str(self.run_dir / "checkpoint"), "snapshots": False, "snapshot_note": None})

    def poll(self) -> list[dict]:
        out, self.queue = self.queue, []
        if any(r["kind"] == "end" for r in out):
            self.ended = True
        return out

    def stop(self) -> None:
        self.stop_calls += 1
        if not self.deaf:
            self.finish("stopped", f"Stopped by request after {self.step} steps.")

    def kill(self, timeout: float = 5.0) -> None:
        self.killed = True
        self.queue.append({"kind": "end", "status": "failed", "message": "Training failed: the training process ended "
                           "unexpectedly: it was killed.", "summary": None, "checkpoint": None, "snapshots": False,
                           "snapshot_note": None})

    def alive(self) -> bool:
        return not self.ended

    def join(self, timeout=None) -> bool:
        return self.ended


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def fake(tmp_path):
    workers: dict[str, FakeWorker] = {}

    def factory(config, run_dir, memory_mb):
        workers[config.run_id] = FakeWorker(config, run_dir, memory_mb)
        return workers[config.run_id]

    clock = Clock()
    manager = JobManager(capacity=2, jobs_per_owner=1, runs_dir=tmp_path / "runs", grace_s=60, threads=1,
                         worker_factory=factory, clock=clock)
    manager._ensure_pump = lambda: None  # the test pumps (pump_once) and moves the clock itself
    return manager, workers, clock


def config(run_id: str, **overrides):
    return preset_config("addsub", "tiny", run_id=run_id, tensorboard=False, **overrides)


def test_slots_cap_and_jobs_per_browser(fake):
    manager, workers, _clock = fake
    assert manager.start("alice", config("a1")).run_id == "a1"
    second_tab = manager.start("alice", config("a2"))  # the same browser, another tab
    assert second_tab.run_id is None and second_tab.refused == "owner"
    assert manager.start("bob", config("b1")).run_id == "b1"  # another browser is unaffected
    busy = manager.start("carol", config("c1"))
    assert busy.refused == "busy" and "2 training slots" in busy.message
    assert manager.in_use() == 2 and manager.free() == 0
    assert workers["a1"].config.threads == 1 and str(workers["a1"].run_dir).endswith("runs/a1")

    workers["a1"].finish()
    manager.pump_once()  # the end record frees alice's slot
    assert manager.in_use() == 1 and manager.owner_active("alice") == 0
    assert manager.start("carol", config("c1")).run_id == "c1"
    assert manager.start("alice", config("a2")).refused == "busy"  # alice may run one again, but no slot is free


def test_watchers_get_only_new_records_and_the_run_folder_has_them_all(fake, tmp_path):
    manager, workers, _clock = fake
    manager.start("alice", config("a1"))
    workers["a1"].emit_steps(5)
    manager.pump_once()
    state, records, cursor = manager.fetch("a1", 0)
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5] and state["status"] == "running"
    assert state["message"] == "Step 5: training loss 0.600."
    workers["a1"].emit_steps(3)
    manager.pump_once()
    _state, records, cursor2 = manager.fetch("a1", cursor)
    assert [r["step"] for r in records] == [6, 7, 8]  # only what is new
    assert manager.fetch("a1", cursor2)[1] == []
    workers["a1"].finish()
    manager.pump_once()
    state, _records, _cursor = manager.fetch("a1", cursor2)
    assert state["status"] == "finished"

    folder = tmp_path / "runs" / "a1"
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 9))
    run = json.loads((folder / "run.json").read_text())
    assert run["owner"] == "alice" and run["status"] == "finished" and run["config"]["run_id"] == "a1"
    assert run["checkpoint"] == str(folder / "checkpoint")
    assert not list(folder.glob(".run.json.tmp-*"))  # written atomically, nothing left behind


def test_grace_period_stops_an_ownerless_run_and_a_seen_owner_keeps_going(fake):
    manager, workers, clock = fake
    manager.start("alice", config("a1"))
    manager.start("bob", config("b1"))
    for _ in range(10):  # 100 s: alice's tabs keep reporting, bob's browser is gone
        clock.now += 10
        manager.seen("alice")
        manager.pump_once()
    alice, bob = manager.fetch("a1")[0], manager.fetch("b1")[0]
    assert alice["status"] == "running" and workers["a1"].stop_calls == 0
    assert bob["status"] == "stopped" and bob["message"] == GRACE_MESSAGE.format(seconds=60)
    assert bob["message"] == "Stopped: no tab of its owner was open for 60 s."
    assert manager.in_use() == 1


def test_a_connected_tab_keeps_its_run_through_the_grace_period_and_a_closed_one_does_not(fake):
    """A tab whose browser is too busy (or throttled in the background) to rerun or send its heartbeat, but whose
    websocket is still open, keeps its run; once the tab is gone the grace period runs from the last time seen."""
    manager, workers, clock = fake
    open_tabs = {"alice"}
    asked = []

    def connected(owner: str) -> bool:
        asked.append(owner)
        return owner in open_tabs

    manager.connected = connected
    manager.start("alice", config("a1"))
    clock.now += 30
    manager.pump_once()
    assert asked == []  # within the grace period the callback is not asked
    for _ in range(20):  # 200 s: no rerun, no heartbeat, but the tab is connected
        clock.now += 10
        manager.pump_once()
    assert manager.fetch("a1")[0]["status"] == "running" and workers["a1"].stop_calls == 0
    assert set(asked) == {"alice"}
    open_tabs.clear()  # the tab closes
    clock.now += 59
    manager.pump_once()
    assert manager.fetch("a1")[0]["status"] == "running"  # seen (connected) at the last pump, 59 s ago
    clock.now += 2
    manager.pump_once()
    state = manager.fetch("a1")[0]
    assert state["status"] == "stopped" and state["message"] == GRACE_MESSAGE.format(seconds=60)
    assert manager.in_use() == 0

    def broken(owner: str) -> bool:
        raise RuntimeError("no runtime")

    manager.connected = broken  # a callback that fails does not keep a run: the grace period decides
    manager.start("bob", config("b1"))
    clock.now += 61
    manager.pump_once()
    manager.pump_once()  # the worker's end record
    state = manager.fetch("b1")[0]
    assert state["status"] == "stopped" and state["message"] == GRACE_MESSAGE.format(seconds=60)


def test_owner_connected_counts_the_open_tabs_of_a_browser_and_forgets_closed_ones():
    from ui import jobs as ui_jobs

    ui_jobs._TABS.clear()
    ui_jobs._TABS.update({"alice": {"tab1", "tab2"}, "bob": {"tab3"}})
    open_sessions = {"tab2"}
    assert ui_jobs.owner_connected("alice", open_sessions.__contains__)
    assert ui_jobs._TABS["alice"] == {"tab2"}  # tab1 closed: forgotten
    assert not ui_jobs.owner_connected("bob", open_sessions.__contains__)
    assert ui_jobs._TABS["bob"] == set()
    assert not ui_jobs.owner_connected("carol", open_sessions.__contains__)  # never seen
    assert not ui_jobs.owner_connected("alice", lambda sid: False)  # no Streamlit runtime: nothing connected
    ui_jobs._TABS.clear()


def test_a_run_that_does_not_stop_is_killed_and_its_slot_freed(fake):
    manager, workers, clock = fake
    manager.start("alice", config("a1"))
    workers["a1"].deaf = True
    assert manager.stop("a1", owner="bob") is False  # only its owner stops it
    assert manager.stop("a1", owner="alice")
    clock.now += 1
    manager.pump_once()
    assert manager.in_use() == 1 and not workers["a1"].killed
    clock.now += 5
    manager.pump_once()
    assert workers["a1"].killed and manager.in_use() == 0
    state = manager.fetch("a1")[0]
    assert state["status"] == "stopped" and "did not end in time" in state["message"]


def test_a_new_manager_finds_an_owners_runs_in_their_folders(fake, tmp_path):
    manager, workers, _clock = fake
    manager.start("alice", config("a1"))
    manager.start("bob", config("b1"))
    workers["a1"].emit_steps(4)
    workers["a1"].finish()
    workers["b1"].emit_steps(2)
    manager.pump_once()  # b1 is still training when "the server dies"

    restarted = JobManager(runs_dir=tmp_path / "runs")
    assert [r["run_id"] for r in restarted.runs_of("alice")] == ["a1"]
    state, records, _cursor = restarted.fetch("a1")
    assert state["status"] == "finished" and [r["step"] for r in records] == [1, 2, 3, 4]
    bob = restarted.runs_of("bob")[0]
    assert bob["status"] == "stopped" and bob["message"] == RESTART_MESSAGE
    assert restarted.in_use() == 0 and restarted.runs_of("carol") == []


def test_metrics_file_is_thinned_with_the_log_atomically_and_a_restart_reads_it(fake, tmp_path, monkeypatch):
    """metrics.jsonl follows the in-memory thinning: 20,000 steps and 40 evals leave at most 2 × MAX_STEPS_KEPT
    step lines and every eval line, rewritten with one os.replace (the old file complete until then)."""
    import trainers.jobs as jobs

    max_kept = 50
    monkeypatch.setattr(jobs, "MAX_STEPS_KEPT", max_kept)
    manager, workers, _clock = fake
    manager.start("alice", config("a1"))
    worker = workers["a1"]
    path = tmp_path / "runs" / "a1" / "metrics.jsonl"

    def lines_of(file: Path) -> list[dict]:
        return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]  # every line whole

    real_replace = os.replace
    rewrites = []

    def replace(src, dst):
        if Path(dst) == path:  # the old file is still whole and the new one is complete before the switch
            old, new = lines_of(path), lines_of(Path(src))
            assert Path(src).parent == path.parent and old == previous[-1]  # until the switch: the old file, whole
            assert new == manager._runs["a1"].records and sum(r["kind"] == "step" for r in new) <= max_kept
            rewrites.append(len(new))
        return real_replace(src, dst)

    monkeypatch.setattr(jobs.os, "replace", replace)
    bound, previous = [], [[]]
    for chunk in range(400):  # 400 pumps of 50 steps (and an eval after every 500 steps)
        worker.emit_steps(50)
        if worker.step % 500 == 0:
            worker.queue.append({"kind": "eval", "step": worker.step, "val_loss": 1.0 / worker.step, "metrics": {},
                                 "elapsed_s": 0.1 * worker.step, "final": False})
        manager.pump_once()
        written = lines_of(path)
        bound.append(sum(r["kind"] == "step" for r in written))
        assert written == manager.fetch("a1")[1], chunk  # the file holds what the log holds
        previous.append(written)
    worker.finish()
    manager.pump_once()

    assert worker.step == 20_000 and max(bound) == 2 * max_kept and len(rewrites) > 100
    written = lines_of(path)
    steps = [r["step"] for r in written if r["kind"] == "step"]
    evals = [r["step"] for r in written if r["kind"] == "eval"]
    assert len(steps) <= 2 * max_kept and steps[0] == 1 and steps[-1] == 20_000
    assert evals == list(range(500, 20_001, 500))  # every eval kept
    seqs = [r["seq"] for r in written]
    assert all(a < b for a, b in zip(seqs, seqs[1:], strict=False)) and seqs[-1] == 20_040
    assert steps[-max_kept // 2:] == list(range(20_001 - max_kept // 2, 20_001))  # the newest steps stay dense
    assert not list(path.parent.glob(".metrics.jsonl.tmp-*"))

    restarted = JobManager(runs_dir=tmp_path / "runs")  # the server restarts: the run is read from its folder
    assert [r["run_id"] for r in restarted.runs_of("alice")] == ["a1"]
    state, records, cursor = restarted.fetch("a1")
    assert state["status"] == "finished" and records == manager.fetch("a1")[1] == written and cursor == 20_040


def test_thin_steps_keeps_recent_points_dense():
    steps = [{"step": i} for i in range(1, 10_001)]
    kept = thin_steps(steps, 1000)
    assert len(kept) <= 1000 and kept[0]["step"] == 1 and kept[-1]["step"] == 10_000
    tail = [s["step"] for s in kept[-100:]]
    assert tail == list(range(9901, 10_001))  # the newest points are all there
    assert thin_steps(steps[:10], 1000) == steps[:10]


# ---------------------------------------------------------------------------------------------------------
# Real workers (processes)
# ---------------------------------------------------------------------------------------------------------
def wait_end(worker, timeout: float = 90.0) -> list[dict]:
    records: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records.extend(worker.poll())
        if records and records[-1]["kind"] == "end":
            return records
        time.sleep(0.05)
    worker.kill()
    raise AssertionError("the worker sent no end record in time")


def test_a_worker_sends_its_records_in_order_and_saves_a_loadable_checkpoint(tmp_path):
    cfg = config("w1", max_steps=12, eval_every=6, threads=1, out_dir=str(tmp_path))
    worker = ProcessWorker(cfg, tmp_path / "w1", memory_mb=1024)
    worker.start()
    records = wait_end(worker)
    assert worker.join(10) and not worker.alive()
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "status" and kinds[-1] == "end" and kinds.count("end") == 1
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == list(range(1, 13))
    assert [r["step"] for r in records if r["kind"] == "eval"] == [6, 12]
    end = records[-1]
    assert end["status"] == "finished" and end["checkpoint"] == str(tmp_path / "w1" / "checkpoint")
    model, meta = load_checkpoint(end["checkpoint"])
    assert meta.task == "addsub" and sum(p.numel() for p in model.parameters()) > 0


def test_a_worker_does_not_run_the_servers_main_script(tmp_path, monkeypatch):
    # Under `streamlit run`, __main__ is the app script: a spawn/forkserver child would run app.py again before
    # training. Stand in for it with a script that leaves a mark when it runs.
    import types

    mark = tmp_path / "main_ran"
    script = tmp_path / "fake_app.py"
    script.write_text(f"open({str(mark)!r}, 'w').write('ran')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    fake_main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    cfg = config("nm", max_steps=2, eval_every=2, threads=1, out_dir=str(tmp_path))
    worker = ProcessWorker(cfg, tmp_path / "nm")
    worker.start()
    records = wait_end(worker)
    assert records[-1]["status"] == "finished", records[-1]["message"]
    assert not mark.exists(), "the worker ran the server's main script"


def test_a_run_over_its_memory_budget_fails_with_a_sentence(tmp_path):
    # A batch of 8,192 with d_ff 4,096 needs gigabytes of activations; the budget is 1 MB (plus the worker's
    # headroom for data and tokenizer): the allocation fails inside the worker, which reports it.
    cfg = config("m1", max_steps=5, threads=1, out_dir=str(tmp_path), batch_size=8192,
                 model={"d_model": 512, "n_heads": 8, "n_layers": 2, "d_ff": 4096})
    worker = ProcessWorker(cfg, tmp_path / "m1", memory_mb=1)
    worker.start()
    end = wait_end(worker)[-1]
    assert end["status"] == "failed"
    assert end["message"] == "Training failed: the run needed more memory than this server allows a run."
    assert worker.join(10)


def test_killing_a_worker_mid_run_fails_its_run_frees_its_slot_and_the_next_run_starts(tmp_path):
    manager = JobManager(capacity=1, jobs_per_owner=1, runs_dir=tmp_path / "runs", threads=1, pump_interval_s=0.05)
    try:
        long = config("k1", max_steps=1_000_000, eval_every=100_000)
        assert manager.start("alice", long, memory_mb=1024).run_id == "k1"
        deadline = time.monotonic() + 60
        while not manager.fetch("k1")[1] and time.monotonic() < deadline:  # it trains
            time.sleep(0.05)
        assert manager.fetch("k1")[1], "no step arrived"
        assert manager.start("bob", config("k2", max_steps=3)).refused == "busy"
        os.kill(manager._runs["k1"].worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while manager.in_use() and time.monotonic() < deadline:
            time.sleep(0.05)
        state = manager.fetch("k1")[0]
        assert state["status"] == "failed"
        assert state["message"] == ("Training failed: the training process ended unexpectedly: it was killed "
                                    "(signal 9: out of memory, or stopped by the system).")
        assert manager.in_use() == 0
        assert manager.start("bob", config("k2", max_steps=3, eval_every=3), memory_mb=1024).run_id == "k2"
        deadline = time.monotonic() + 60
        while manager.in_use() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manager.fetch("k2")[0]["status"] == "finished"
    finally:
        manager.close()


def test_a_real_run_whose_owner_is_gone_stops_after_a_short_grace_and_frees_its_slot(tmp_path):
    manager = JobManager(capacity=2, jobs_per_owner=1, runs_dir=tmp_path / "runs", grace_s=1.5, threads=1,
                         pump_interval_s=0.05)
    try:
        assert manager.start("alice", config("g1", max_steps=1_000_000, eval_every=100_000), memory_mb=1024).run_id
        assert manager.start("bob", config("g2", max_steps=1_000_000, eval_every=100_000), memory_mb=1024).run_id
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (manager.fetch("g1")[0]["status"] != "running" or manager.in_use() == 2):
            manager.seen("alice")  # alice's tab stays open; bob's browser is gone since the start
            time.sleep(0.1)
        gone = manager.fetch("g2")[0]
        # (on a loaded machine its worker may still be loading when the stop comes, and be killed 5 s later)
        assert gone["status"] == "stopped" and gone["message"].startswith("Stopped: no tab of its owner was open for 1.5 s.")
        assert manager.fetch("g1")[0]["status"] == "running" and manager.in_use() == 1
        assert json.loads((tmp_path / "runs" / "g2" / "run.json").read_text())["status"] == "stopped"
    finally:
        manager.close()
