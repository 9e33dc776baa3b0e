"""The Ray path of the Train page's workers (trainers.ray_backend) against a local Ray head.

The head is started for this module with ``ray start --head`` in a subprocess (2 CPUs, no dashboard, a 100 MB
object store, free loopback ports), and every run goes the way the server's does: ``TC_RAY_ADDRESS`` names the
head and :func:`trainers.worker.make_worker` returns the :class:`RayWorker`. Tests that need the head skip with a
reason when ``ray`` is not installed; those about messages run without it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

# A one-machine cluster on loopback addresses (else Ray announces the machine's network address), set before
# Ray is imported (it reads the variable at import).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# A lost head is noticed after 5 s instead of a minute (the head-loss test waits for it).
os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", "5")

from tests.english import english_left  # noqa: E402
from trainers import ray_backend  # noqa: E402
from trainers.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint_files  # noqa: E402
from trainers.presets import preset_config  # noqa: E402
from trainers.worker import ENV_RAY_ADDRESS, make_worker  # noqa: E402

try:
    import ray
except ImportError:
    ray = None

HEAD_START_S = 90


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextlib.contextmanager
def local_ray_head():
    """``ray start --head`` on free loopback ports (2 CPUs, no dashboard, a 100 MB object store); yields the
    head's process and its address, and stops the head after."""
    gcs, client, dashboard, agent, agent_grpc, env_agent, metrics = _free_ports(7)
    temp_dir = tempfile.mkdtemp(prefix="tc-ray-")  # short: Ray's socket paths live under it
    log = Path(temp_dir) / "head.log"
    command = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())",
               "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
               "--num-cpus", "2", "--object-store-memory", str(100 * 2**20), "--include-dashboard=false",
               "--include-log-monitor=false", "--disable-usage-stats", "--temp-dir", temp_dir,
               "--ray-client-server-port", str(client), "--dashboard-port", str(dashboard),
               "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
               "--runtime-env-agent-port", str(env_agent), "--metrics-export-port", str(metrics)]
    with open(log, "w") as out:
        head = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + HEAD_START_S
        while "Ray runtime started" not in log.read_text(errors="replace"):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the local Ray head did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield head, f"127.0.0.1:{gcs}"
    finally:
        ray_backend.close_drivers()
        if head.poll() is None:
            head.send_signal(signal.SIGTERM)  # `ray start --block` stops the head's processes, then exits
            try:
                head.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(head.pid, signal.SIGKILL)
                head.wait(10)
        for pid in subprocess.run(["pgrep", "-g", str(head.pid)], capture_output=True, text=True).stdout.split():
            try:  # anything of the head's process group still there
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_head():
    """A local Ray head for this module: (its process, its address)."""
    if ray is None:
        pytest.skip("ray is not installed (pip install -r requirements-dev.txt)")
    with local_ray_head() as head_and_address:
        yield head_and_address


@pytest.fixture
def ray_address(ray_head):
    """The module's head's address (the head still running)."""
    if ray_head[0].poll() is not None:
        pytest.skip("the module's Ray head was stopped by an earlier test")
    return ray_head[1]


def _config(tmp_path: Path, run_id: str, **overrides):
    return preset_config("addsub", "tiny", run_id=run_id, out_dir=str(tmp_path / "runs"), **overrides)


def _worker(address: str, config, tmp_path: Path, memory_mb: int | None = 512):
    worker = make_worker(config, tmp_path / "runs" / config.run_id, memory_mb, environ={ENV_RAY_ADDRESS: address})
    assert isinstance(worker, ray_backend.RayWorker)
    return worker


def _until(worker, predicate, timeout_s: float = 90) -> list[dict]:
    """Poll ``worker`` until a record satisfies ``predicate``; every record so far."""
    records: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while not any(predicate(r) for r in records):
        assert time.monotonic() < deadline, f"no such record within {timeout_s} s: {records[-3:]}"
        records += worker.poll()
    return records


def _is_end(record: dict) -> bool:
    return record["kind"] == "end"


# ---------------------------------------------------------------------------------------------------------
# Against the local head
# ---------------------------------------------------------------------------------------------------------
def test_trains_addsub_and_brings_the_checkpoint_back(ray_address, tmp_path):
    config = _config(tmp_path, "ray-addsub", max_steps=40, eval_every=20)
    worker = _worker(ray_address, config, tmp_path)
    worker.start()
    records, longest_poll = [], 0.0
    deadline = time.monotonic() + 90
    while not any(_is_end(r) for r in records):
        assert time.monotonic() < deadline, records[-3:]
        began = time.monotonic()
        records += worker.poll()
        longest_poll = max(longest_poll, time.monotonic() - began)
    assert longest_poll < 3.0, f"poll() blocked for {longest_poll:.1f} s"

    kinds = [r["kind"] for r in records]
    assert [r["status"] for r in records if r["kind"] == "status"] == ["queued", "running"]
    assert kinds[:2] == ["status", "status"] and kinds[-1] == "end" and kinds.count("end") == 1
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == list(range(1, 41))
    evals = [r for r in records if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [20, 40] and evals[-1]["final"]
    assert kinds.index("eval") > kinds.index("step")  # in order: the first evaluation after step 20
    assert records[kinds.index("eval") - 1]["step"] == 20

    end = records[-1]
    assert end["status"] == "finished", end["message"]
    assert "_files" not in end
    assert end["checkpoint"] == str(tmp_path / "runs" / "ray-addsub" / "checkpoint")
    assert resolve_checkpoint(end["checkpoint"]).name.startswith("v-")  # a version sub-folder and CURRENT
    model, meta = load_checkpoint(end["checkpoint"])
    assert meta.metrics == end["summary"]["final_metrics"] == {**evals[-1]["metrics"], "val_loss": evals[-1]["val_loss"]}
    assert meta.train_config["max_steps"] == 40 and meta.task == "addsub"
    assert sum(p.numel() for p in model.parameters()) > 0
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert end["summary"]["steps"] == 40
    assert list((tmp_path / "runs" / "ray-addsub").glob("events.out.tfevents.*"))  # TensorBoard's file came back

    assert worker.poll() == []  # nothing after the end record
    assert worker.join(10) and not worker.alive()


def test_the_train_page_trains_a_run_on_the_cluster(ray_address, tmp_path, monkeypatch):
    """Issue 17's "Done when": the Ray path trains a run from the page. The Train page, unchanged, with
    TC_RAY_ADDRESS set: Start → the run goes to the local head, finishes, and Keep a model offers its checkpoint."""
    from tests.test_pages_train_generate import last_status, open_page, page_file, poll, stop_runs
    from ui.jobs import ACTIVE_STATUSES

    started: list[str] = []
    ray_start = ray_backend.RayWorker.start

    def start(worker):
        started.append(worker.config.run_id)
        return ray_start(worker)

    monkeypatch.setattr(ray_backend.RayWorker, "start", start)
    monkeypatch.setenv(ENV_RAY_ADDRESS, ray_address)
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("TC_MAX_JOBS", raising=False)
    at = open_page(page_file("Train"))
    try:
        at.button(key="train_start").click().run()
        assert not at.error, [e.value for e in at.error]
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES, timeout=120)
        record = at.session_state["train_runs"][-1]
        assert last_status(at) == "finished", record.last_snapshot.get("message")
        assert record.last_snapshot["last_step"]["step"] == 60  # the AddSub tiny preset's 60 steps
        assert any("finished" in s.value and "exact-match" in s.value for s in at.success)
        assert record.checkpoint == str(tmp_path / "runs" / record.run_id / "checkpoint")
        _model, meta = load_checkpoint(record.checkpoint)  # came back from the cluster as files
        assert meta.task == "addsub" and meta.train_config["max_steps"] == 60
        assert at.button(key="train_open_attention")  # Keep a model offers it at once
        assert started == [record.run_id]  # it went to the cluster, not to a local process
    finally:
        stop_runs()


def test_a_runs_actor_asks_for_tc_job_threads_cpus(ray_address, tmp_path):
    """The job manager gives a run the threads of the limits (TC_JOB_THREADS; 2 by default with TC_RAY_ADDRESS,
    whatever this server's cores), and the run's actor asks Ray for that many CPUs."""
    from trainers.jobs import JobManager
    from ui.limits import read_limits

    workers = []

    def factory(config, run_dir, memory_mb):
        workers.append(make_worker(config, run_dir, memory_mb, environ={ENV_RAY_ADDRESS: ray_address}))
        return workers[-1]

    for environ, cpus in (({ENV_RAY_ADDRESS: ray_address}, 2), ({ENV_RAY_ADDRESS: ray_address, "TC_JOB_THREADS": "1"}, 1)):
        limits = read_limits(environ, {}, "127.0.0.1")
        manager = JobManager(runs_dir=tmp_path / "runs", threads=limits.threads_per_job, worker_factory=factory,
                             pump_interval_s=0.1)
        run_id = f"ray-threads-{cpus}"
        try:
            assert manager.start("alice", _config(tmp_path, run_id, max_steps=1_000_000), memory_mb=512).run_id
            deadline = time.monotonic() + 90
            while not any(r["kind"] == "step" for r in manager.fetch(run_id)[1]):
                assert time.monotonic() < deadline and manager.fetch(run_id)[0]["status"] in ("queued", "running")
                time.sleep(0.2)
            worker = workers[-1]
            assert worker.config.threads == worker.num_cpus == cpus
            reserved = worker._driver.call("resources", worker._name)
            assert reserved["CPU"] == cpus and reserved["memory"] == 512 * 2**20
        finally:
            manager.close(wait_s=30)
        assert manager.in_use() == 0 and manager.fetch(run_id)[0]["status"] == "stopped"


def test_stop_ends_a_long_run_as_stopped_with_a_checkpoint(ray_address, tmp_path):
    config = _config(tmp_path, "ray-long", max_steps=1_000_000, eval_every=100_000, eval_batches=1)
    worker = _worker(ray_address, config, tmp_path)
    worker.start()
    records = _until(worker, lambda r: r["kind"] == "step" and r["step"] >= 5)
    worker.stop()
    records += _until(worker, _is_end, timeout_s=60)
    end = records[-1]
    last_step = max(r["step"] for r in records if r["kind"] == "step")
    assert end["status"] == "stopped", end["message"]
    assert 5 <= end["summary"]["steps"] == last_step < 1_000_000
    _, meta = load_checkpoint(end["checkpoint"])
    assert meta.metrics == end["summary"]["final_metrics"]
    assert not worker.alive()


def test_a_killed_actor_gives_a_failed_end_record(ray_address, tmp_path):
    worker = _worker(ray_address, _config(tmp_path, "ray-sigkill", max_steps=1_000_000), tmp_path)
    worker.start()
    _until(worker, lambda r: r["kind"] == "step")
    pid = worker._driver.call("pid", worker._name)
    os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer would: the run sends no end record
    end = _until(worker, _is_end, timeout_s=60)[-1]
    assert end["status"] == "failed" and end["checkpoint"] is None and end["summary"] is None
    assert end["message"] == ("Training failed: the Ray worker running it ended unexpectedly: it died (killed, out "
                              "of memory, or its node left the cluster).")
    assert not worker.alive() and worker.join(1)
    assert worker.poll() == []


def test_kill_ends_a_run_still_waiting_for_its_worker(ray_address, tmp_path):
    worker = _worker(ray_address, _config(tmp_path, "ray-kill", max_steps=1_000_000), tmp_path)
    worker.start()
    worker.kill()
    records = _until(worker, _is_end, timeout_s=60)
    assert [r["kind"] for r in records] == ["status", "end"] and records[0]["status"] == "queued"
    assert records[-1]["status"] == "failed"
    assert records[-1]["message"] == "Training failed: the Ray worker running it ended unexpectedly: it was killed."
    assert not worker.alive() and worker.poll() == []


def test_a_cluster_without_a_node_big_enough_is_refused(ray_address, tmp_path, monkeypatch):
    from ui import messages
    from ui.i18n import translate

    with pytest.raises(RuntimeError, match=r"No node of the Ray cluster .* has 1 CPU\(s\) and 10485760 MB") as huge:
        _worker(ray_address, _config(tmp_path, "ray-huge"), tmp_path, memory_mb=10 * 2**20)
    with pytest.raises(RuntimeError, match=r"has 3 CPU\(s\) for a run \(the largest has 2 CPU\(s\)") as threads:
        _worker(ray_address, _config(tmp_path, "ray-threads", threads=3), tmp_path, memory_mb=None)
    assert str(threads.value).endswith("add a bigger node, or lower TC_JOB_THREADS or TC_JOB_MEMORY_MB.")
    monkeypatch.setattr(messages, "_", lambda m: translate(m, "zh_Hant"))
    for caught in (huge, threads):  # the page shows the sentences in the session's language
        chinese = messages.localize(str(caught.value))
        assert "叢集沒有任何節點" in chinese and not _english_left(chinese), chinese


# ---------------------------------------------------------------------------------------------------------
# Messages (no head needed)
# ---------------------------------------------------------------------------------------------------------
def test_an_unreachable_cluster_is_one_sentence_within_seconds(tmp_path):
    if ray is None:
        pytest.skip("ray is not installed (pip install -r requirements-dev.txt)")
    (port,) = _free_ports(1)  # closed again: nothing listens there
    began = time.monotonic()
    with pytest.raises(RuntimeError) as caught:
        _worker(f"127.0.0.1:{port}", _config(tmp_path, "ray-nowhere"), tmp_path)
    assert time.monotonic() - began < ray_backend.CONNECT_TIMEOUT_S + 1
    message = str(caught.value)
    assert message.startswith(f"The Ray cluster at 127.0.0.1:{port} cannot be reached (")
    assert "unset TC_RAY_ADDRESS" in message and "\n" not in message


@pytest.mark.parametrize("address", ["nonsense", "127.0.0.1", "host:0", "host:99999", "ray://:10001", "http://host:80"])
def test_a_malformed_address_is_named(address, tmp_path):
    if ray is None:
        pytest.skip("ray is not installed (pip install -r requirements-dev.txt)")
    with pytest.raises(RuntimeError, match=r"TC_RAY_ADDRESS should name the Ray head as host:port"):
        _worker(address, _config(tmp_path, "ray-bad"), tmp_path)


def test_parse_address():
    assert ray_backend.parse_address("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert ray_backend.parse_address(" ray://head.example:10001 ") == ("head.example", 10001)
    assert ray_backend.parse_address("[::1]:6379") == ("::1", 6379)
    assert ray_backend.parse_address("auto") is None


def test_without_ray_installed_the_message_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RuntimeError, match=r"^TC_RAY_ADDRESS is set, but Ray is not installed on this server: "
                                           r"install it with `pip install ray`"):
        make_worker(_config(tmp_path, "ray-none"), tmp_path / "run", 512, environ={ENV_RAY_ADDRESS: "127.0.0.1:6379"})


def test_without_the_variable_the_worker_is_local(tmp_path):
    from trainers.worker import ProcessWorker

    worker = make_worker(_config(tmp_path, "local"), tmp_path / "run", 512, environ={ENV_RAY_ADDRESS: "  "})
    assert isinstance(worker, ProcessWorker)


def test_runtime_env_carries_the_code_not_the_runs(monkeypatch):
    monkeypatch.setenv("TC_DATA_DIR", "/data/wikitext-2")
    env = ray_backend.runtime_env()
    root = Path(env["working_dir"])
    assert (root / "trainers" / "ray_backend.py").is_file() and (root / "transformer").is_dir()
    for left_out in (".git", "runs", "tests", "docs", "assets/addsub", "assets/wikitext2"):
        assert left_out in env["excludes"]
    assert "assets/data" not in env["excludes"]  # Tiny Shakespeare travels with the code
    assert env["env_vars"]["TC_DATA_DIR"] == "/data/wikitext-2"
    assert Path(env["env_vars"]["TC_SHARED_DATA"]).is_absolute()


# ---------------------------------------------------------------------------------------------------------
# Writing a checkpoint that arrived as bytes
# ---------------------------------------------------------------------------------------------------------
def test_save_checkpoint_files_writes_a_new_version_atomically(tmp_path):
    source = Path("assets/addsub")
    if not (source / "config.json").is_file():
        pytest.skip("the shipped AddSub checkpoint is not in assets/")
    files = {f.name: f.read_bytes() for f in sorted(resolve_checkpoint(source).iterdir()) if f.is_file()}
    target = tmp_path / "checkpoint"
    assert save_checkpoint_files(target, files) == target
    first = resolve_checkpoint(target)
    assert first.parent == target and (target / "CURRENT").read_text().strip() == first.name
    model, meta = load_checkpoint(target)
    shipped, shipped_meta = load_checkpoint(source)
    assert meta.metrics == shipped_meta.metrics
    for (name, a), (_, b) in zip(model.state_dict().items(), shipped.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    time.sleep(0.01)
    save_checkpoint_files(target, files)  # a second save: a new version, the old one removed
    assert resolve_checkpoint(target) != first and not first.exists()
    assert sorted(p.name for p in target.iterdir() if p.name.startswith("v-")) == [resolve_checkpoint(target).name]
    for bad in ({"../x": b"", **files}, {".hidden": b"", **files}, {"CURRENT": b"", **files},
                {"config.json": files["config.json"]}):
        with pytest.raises(ValueError):
            save_checkpoint_files(tmp_path / "other", bad)



# ---------------------------------------------------------------------------------------------------------
# The sentences a page shows, in the session's language
# ---------------------------------------------------------------------------------------------------------
def test_the_ray_sentences_are_translated(monkeypatch, tmp_path):
    from ui import messages
    from ui.i18n import translate

    (port,) = _free_ports(1)
    sentences = [
        "Waiting for a Ray worker with 2 CPU(s) and 4096 MB free…",
        "Waiting for a Ray worker with 1 CPU(s) free…",
        f"The Ray cluster at 127.0.0.1:{port} cannot be reached (Connection refused): start its head with "
        "`ray start --head`, or unset TC_RAY_ADDRESS to train on this machine.",
        "TC_RAY_ADDRESS is set, but Ray is not installed on this server: install it with `pip install ray` (the "
        "worker nodes need it too), or unset TC_RAY_ADDRESS to train on this machine.",
    ]
    monkeypatch.setattr(messages, "_", lambda m: translate(m, "zh_Hant"))
    for english in sentences:
        chinese = messages.localize(english)
        assert chinese != english and "Waiting" not in chinese and "cannot be reached" not in chinese, chinese
    assert "4096" in messages.localize(sentences[0]) and f"127.0.0.1:{port}" in messages.localize(sentences[2])
    if ray is not None:  # the sentences are the ones the backend says
        with pytest.raises(RuntimeError) as caught:
            _worker(f"127.0.0.1:{port}", _config(tmp_path, "ray-nowhere"), tmp_path)
        assert str(caught.value) == sentences[2]
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RuntimeError) as caught:
        _worker("127.0.0.1:6379", _config(tmp_path, "ray-none"), tmp_path)
    assert str(caught.value) == sentences[3]


class _FakeDriver:
    """A driver handle whose answers the test sets: ``fail[op]`` is raised by that request (a RuntimeError with
    the driver's sentence, or _DriverGone with the handle's), ``answer`` is the poll's reply."""

    def __init__(self, fail: dict | None = None, answer=None) -> None:
        self.fail, self.answer = fail or {}, answer

    def call(self, op, *args, timeout=None):
        if op in self.fail:
            raise self.fail[op]

    def send(self, op, *args, answer=True):
        return 1

    def reply(self, request_id, wait_s):
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def usable(self):
        return True

    def close(self):
        pass


_english_left = english_left  # names, addresses, numbers and code are kept (tests/english.py)


def _ray_sentences(tmp_path: Path, monkeypatch) -> list[str]:
    """What the Ray path says to a page (a StartResult's message, a run's message), made by its own code with a
    fake driver where a real one cannot be made to fail so (a cluster answering but refusing ray.init, a driver
    process that dies)."""
    from trainers.worker import end_record

    said = []
    (port,) = _free_ports(1)
    with pytest.raises(RuntimeError) as caught:  # parse_address
        _worker("nonsense", _config(tmp_path, "ray-bad"), tmp_path)
    said.append(str(caught.value))
    listener = socket.create_server(("127.0.0.1", 0))  # a port that answers, for _driver's first check
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        for failure in (ray_backend._DriverGone("the process holding it did not answer within 30 s"),
                        ray_backend._DriverGone("the process holding it ended with exit code 1"),
                        RuntimeError("RuntimeError")):
            monkeypatch.setattr(ray_backend, "_DriverHandle", lambda a, f=failure: _FakeDriver({"connect": f}))
            with pytest.raises(RuntimeError) as caught:
                ray_backend._driver(address)
            said.append(str(caught.value))
    finally:
        listener.close()
    fakes = {"capacity": _FakeDriver({"capacity": ray_backend._DriverGone("the process holding it ended")})}
    for why in ("the process holding it ended (BrokenPipeError)", "it was closed"):
        fakes[why] = _FakeDriver({"start": ray_backend._DriverGone(why)})
    fakes["lost"] = _FakeDriver(answer=ray_backend._DriverGone("the process holding it ended"))
    fakes["refused"] = _FakeDriver(answer=(True, False, "RuntimeError"))
    for gone in ("it was killed", "it died (killed, out of memory, or its node left the cluster)",
                 "it could not start the run: 'tc_missing'"):
        fakes[gone] = _FakeDriver(answer=(True, True, {"records": [], "gone": gone}))
    for name, fake in fakes.items():
        monkeypatch.setattr(ray_backend, "_driver", lambda a, f=fake: f)
        try:
            worker = ray_backend.RayWorker(_config(tmp_path, "ray-fake"), tmp_path / "run", 512, address=address)
        except RuntimeError as exc:
            said.append(str(exc))
            continue
        worker.start()
        records = worker.poll()
        said += [r["message"] for r in records if r["kind"] in ("status", "end")]
        assert records[-1]["kind"] == "end" and records[-1]["status"] == "failed", (name, records)
    worker = ray_backend.RayWorker(_config(tmp_path, "ray-files"), tmp_path / "run", 512, address=address)
    broken = worker._receive({**end_record("finished", "Finished 60 steps in 1.8 s."),
                              ray_backend._FILES: {"checkpoint": {"../config.json": b"{}"}, "logs": {}}})
    said.append(broken["message"])  # the checkpoint's files could not be written here
    said.append("Training failed: the trained model could not be read on the Ray worker: 'model.safetensors'")
    for memory in (True, False):  # _Driver.capacity's sentence (the test against the head makes the real one)
        said.append(f"No node of the Ray cluster at {address} has 3 CPU(s)" + (" and 8192 MB of memory" if memory
                    else "") + " for a run (the largest has 2 CPU(s) and 4096 MB): add a bigger node, or lower "
                    "TC_JOB_THREADS or TC_JOB_MEMORY_MB.")
    return said


@pytest.mark.parametrize("language", ["zh_Hant", "zh_Hans"])
def test_every_ray_sentence_a_page_shows_is_translated(language, monkeypatch, tmp_path):
    if ray is None:
        pytest.skip("ray is not installed (pip install -r requirements-dev.txt)")
    from ui import messages
    from ui.i18n import translate

    said = _ray_sentences(tmp_path, monkeypatch)
    waiting = "Waiting for a Ray worker with 1 CPU(s) and 512 MB free…"
    assert len(said) == 23 and len(set(said)) == 17 and said.count(waiting) == 7, said  # 7 fake runs started
    detail = "checkpoint file names are plain file names, got '../config.json'"  # trainers.checkpoint's, kept
    assert f"Training failed: the trained model could not be saved on this server: {detail}" in said
    monkeypatch.setattr(messages, "_", lambda m: translate(m, language))
    for english in set(said):
        chinese = messages.localize(english)
        left = _english_left(chinese.replace(detail, ""))
        assert chinese != english and not left, (english, chinese, left)
        for kept in re.findall(r"127\.0\.0\.1:\d+|TC_[A-Z_]+|'[^']*'|\b\d+\b", english):
            assert kept in chinese, (kept, chinese)  # names, addresses and numbers come through unchanged


def test_a_run_over_its_memory_budget_fails_on_the_worker(ray_address, tmp_path):
    """The worker's address space is capped at the budget (plus the headroom a local worker gets): a batch whose
    feed-forward activations alone need about 2 GB fails there with the local worker's sentence."""
    from trainers.config import TrainConfig

    base = _config(tmp_path, "ray-oom", max_steps=5)
    model = type(base.model)(**{**base.model.to_dict(), "d_model": 64, "n_heads": 2, "d_ff": 8192})
    config = TrainConfig.from_dict({**base.to_dict(), "model": model.to_dict(), "batch_size": 8192})
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no process has now
    stale = Path(tempfile.gettempdir()) / f"tc-ray-run-{gone.pid}-test"  # as a killed run's worker leaves it
    (stale / "run").mkdir(parents=True, exist_ok=True)
    worker = _worker(ray_address, config, tmp_path, memory_mb=64)
    worker.start()
    end = _until(worker, _is_end, timeout_s=90)[-1]
    assert end["status"] == "failed" and end["checkpoint"] is None
    assert end["message"] == "Training failed: the run needed more memory than this server allows a run."
    assert not stale.exists()  # the next run on the node removed it
    assert not list(Path(tempfile.gettempdir()).glob("tc-ray-run-*-*/run"))  # nor is any run's own folder left


# ---------------------------------------------------------------------------------------------------------
# Last: the head goes away
# ---------------------------------------------------------------------------------------------------------

def test_losing_the_head_fails_the_run_and_never_the_server(ray_head, tmp_path):
    """A Ray driver ends its process when the head is gone: that process is a child, so the server (this test)
    goes on, the run ends as failed with a sentence, and the next run is told the cluster cannot be reached.
    The last test of the module: it kills the module's head."""
    head, address = ray_head
    worker = _worker(address, _config(tmp_path, "ray-headless", max_steps=1_000_000), tmp_path)
    worker.start()
    _until(worker, lambda r: r["kind"] == "step")
    os.killpg(head.pid, signal.SIGKILL)  # the head machine is gone: GCS, raylet, the run's worker
    head.wait(10)
    end = _until(worker, _is_end, timeout_s=60)[-1]
    assert end["status"] == "failed" and end["checkpoint"] is None
    assert re.match(r"Training failed: the (connection to the Ray cluster at \S+ was lost \(the process holding "
                    r"it ended\)|Ray worker running it ended unexpectedly: it died)", end["message"]), end["message"]
    assert not worker.alive()
    with pytest.raises(RuntimeError, match=f"^The Ray cluster at {address} cannot be reached"):
        _worker(address, _config(tmp_path, "ray-after"), tmp_path)
