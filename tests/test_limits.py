"""Limits a TA sets (ui.limits) and the memory estimate made before anything is allocated (trainers.estimate)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.test_pages_train_generate import page_file
from trainers.config import with_hyper
from trainers.estimate import estimate_training_memory, largest_batch_within
from trainers.presets import PRESETS, preset_config
from ui.limits import ServerLimits, check_request, out_of_range, read_limits

ISSUE_REQUEST = {"d_model": 1024, "n_heads": 16, "n_layers": 8, "d_ff": 4096}  # issue 17: 7.2 GB before step 1


def test_limits_default_to_todays_behaviour_on_loopback_and_cap_runs_on_a_shared_server():
    local = read_limits({}, {}, "127.0.0.1")
    assert (local.max_jobs, local.jobs_per_browser, local.max_run_s, local.job_memory_mb) == (2, 1, None, 4096)
    assert local.owner_grace_s == 60.0
    shared = read_limits({}, {}, "0.0.0.0")
    assert shared.shared and shared.max_run_s == 600.0
    env = {"TC_MAX_JOBS": "3", "TC_JOBS_PER_SESSION": "2", "TC_MAX_RUN_SECONDS": "0", "TC_JOB_MEMORY_MB": "512"}
    assert read_limits(env, {}, "0.0.0.0") == ServerLimits(3, 2, None, 512, True)  # the old name still works
    env = {"TC_JOBS_PER_BROWSER": "3", "TC_JOBS_PER_SESSION": "2", "TC_OWNER_GRACE_S": "4"}
    assert read_limits(env, {}, "127.0.0.1") == ServerLimits(2, 3, None, 4096, False, 4.0)  # the new name wins
    assert read_limits({}, {"TC_OWNER_GRACE_S": 90}, "127.0.0.1").owner_grace_s == 90.0
    secrets = {"TC_MAX_RUN_SECONDS": 120, "TC_JOB_MEMORY_MB": 1024}  # .streamlit/secrets.toml
    assert read_limits({"TC_JOB_MEMORY_MB": "256"}, secrets, "127.0.0.1") == ServerLimits(2, 1, 120.0, 256, False)
    for name, raw in (("TC_JOBS_PER_SESSION", "0"), ("TC_JOB_MEMORY_MB", "lots"), ("TC_MAX_RUN_SECONDS", "-5"),
                      ("TC_MAX_JOBS", "two"), ("TC_JOBS_PER_BROWSER", "0"), ("TC_OWNER_GRACE_S", "soon")):
        with pytest.raises(ValueError, match=name):
            read_limits({name: raw}, {}, "127.0.0.1")


def test_job_threads_come_from_tc_job_threads_else_the_servers_cores_else_two_on_a_ray_cluster():
    import os

    cores = os.cpu_count() or 1
    local = read_limits({}, {}, "0.0.0.0")
    assert local.job_threads is None and local.threads_per_job == max(1, cores // 2)  # TC_MAX_JOBS 2 share the cores
    assert read_limits({"TC_MAX_JOBS": "1"}, {}, "127.0.0.1").threads_per_job == cores
    assert read_limits({"TC_MAX_JOBS": str(cores + 5)}, {}, "127.0.0.1").threads_per_job == 1  # never fewer than one
    on_ray = read_limits({"TC_RAY_ADDRESS": "10.0.0.5:6379", "TC_MAX_JOBS": "1"}, {}, "0.0.0.0")
    assert on_ray.job_threads == on_ray.threads_per_job == 2  # the nodes decide, not this server's cores
    assert read_limits({"TC_RAY_ADDRESS": "  "}, {}, "127.0.0.1").job_threads is None  # blank: no cluster
    assert read_limits({"TC_JOB_THREADS": " 3 "}, {}, "127.0.0.1").threads_per_job == 3
    assert read_limits({"TC_RAY_ADDRESS": "auto", "TC_JOB_THREADS": "8"}, {}, "127.0.0.1").threads_per_job == 8
    assert read_limits({}, {"TC_JOB_THREADS": 4}, "127.0.0.1").threads_per_job == 4  # .streamlit/secrets.toml
    assert read_limits({"TC_JOB_THREADS": "1"}, {"TC_JOB_THREADS": 4}, "127.0.0.1").threads_per_job == 1  # env wins
    for raw in ("0", "-2", "two", "1.5", "2 threads"):
        with pytest.raises(ValueError) as caught:
            read_limits({"TC_JOB_THREADS": raw}, {}, "127.0.0.1")
        assert str(caught.value) == f"TC_JOB_THREADS={raw!r} must be a whole number of at least 1."
    with pytest.raises(ValueError, match=r"^TC_JOB_THREADS=0 must be"):
        read_limits({"TC_RAY_ADDRESS": "auto"}, {"TC_JOB_THREADS": 0}, "127.0.0.1")


def test_every_preset_fits_the_default_budget():
    budget = read_limits({}, {}, "127.0.0.1").job_memory_bytes
    for task, presets in PRESETS.items():
        for preset in presets:
            assert estimate_training_memory(preset_config(task, preset)).total_bytes < budget, (task, preset)


def test_the_issue_request_is_refused_before_allocating_and_says_what_fits():
    base = preset_config("addsub", "tiny")
    config = replace(base, model=with_hyper(base.model, **ISSUE_REQUEST), batch_size=1024)
    estimate = estimate_training_memory(config)
    assert 200e6 < estimate.parameters < 260e6  # 8 + 8 layers of width 1024
    assert estimate.total_bytes > 7.2e9  # at least what the issue saw allocated before step 1
    assert check_request(config, ServerLimits(job_memory_mb=2048)).problem == "weights"  # 16 B a parameter > 2 GB
    limits = ServerLimits(job_memory_mb=4096)
    check = check_request(config, limits)
    assert check.problem == "memory" and 1 <= check.largest_batch < 1024  # the weights fit 4 GB, the batch does not
    assert estimate_training_memory(replace(config, batch_size=check.largest_batch)).total_bytes <= limits.job_memory_bytes
    smaller = replace(config, model=with_hyper(base.model, d_model=256, n_heads=8, n_layers=4, d_ff=1024))
    check = check_request(smaller, limits)
    assert check.problem == "memory" and 1 <= check.largest_batch < 1024
    fits = replace(smaller, batch_size=check.largest_batch)
    assert estimate_training_memory(fits).total_bytes <= limits.job_memory_bytes
    assert estimate_training_memory(replace(fits, batch_size=check.largest_batch + 1)).total_bytes > limits.job_memory_bytes
    assert largest_batch_within(smaller, limits.job_memory_bytes) == check.largest_batch


def test_the_longest_run_caps_runs_without_a_time_limit_and_refuses_longer_ones():
    limits = ServerLimits(max_run_s=600.0)
    config = replace(preset_config("addsub", "tiny"), max_time_s=None, max_steps=1_000_000)
    check = check_request(config, limits)
    assert check.problem is None and check.capped and check.config.max_time_s == 600.0
    assert check_request(replace(config, max_time_s=900.0), limits).problem == "time"
    assert check_request(replace(config, max_time_s=60.0), limits).config.max_time_s == 60.0
    assert out_of_range({"max_time_s": 900.0, "d_model": 4096, "batch_size": 8}, limits) == [
        ("d_model", 4096, 8, 1024), ("max_time_s", 900.0, 0.0, 600.0)]


MEASURE = r"""
import json, resource, sys
from dataclasses import replace
import torch
import torch.nn.functional as F
from trainers.config import with_hyper
from trainers.estimate import estimate_training_memory
from trainers.presets import preset_config
from transformer.models import build_model

torch.set_num_threads(1)
d_model, n_layers, d_ff, batch, block = (int(a) for a in sys.argv[1:6])
config = preset_config("shakespeare", "tiny")
config = replace(config, model=with_hyper(config.model, d_model=d_model, n_heads=4, n_layers=n_layers, d_ff=d_ff,
                                          dropout=0.1), batch_size=batch, block_size=block)
estimate = estimate_training_memory(config)

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

x = torch.randint(0, 128, (batch, block + 1))
# One step of a tiny model first, so that libraries and kernels loaded on first use are not counted as the run's.
warm = build_model(replace(config, model=with_hyper(config.model, d_model=8, n_heads=2, n_layers=1, d_ff=8))
                   .model_for(128, 8)).train()
F.cross_entropy(warm(x[:2, :8]).reshape(-1, 128), x[:2, 1:9].reshape(-1)).backward()
torch.optim.AdamW(warm.parameters(), lr=1e-3).step()
del warm
base = rss()
model = build_model(config.model_for(128, block)).train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
for _ in range(2):
    logits = model(x[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, 128), x[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"real": peak - base, "estimate": estimate.total_bytes}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize("sizes", [(128, 2, 512, 64, 64), (512, 2, 2048, 16, 256)], ids=["d128", "d512"])
def test_the_estimate_is_within_a_factor_of_a_real_training_step(sizes):
    """Peak resident memory of two real AdamW steps, in a fresh process, against the estimate (0.8-1.0 measured)."""
    run = subprocess.run([sys.executable, "-c", MEASURE, *map(str, sizes)], capture_output=True, text=True,
                         cwd=REPO, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    ratio = result["real"] / result["estimate"]
    # Measured 0.8-1.0 on a quiet machine; the smaller model's peak read up to 1.53 once under heavy load (the
    # allocator keeps more), so the bound is a factor of 2 either way: an estimate that misses a term fails it.
    assert 0.5 <= ratio <= 2.0, {**result, "ratio": ratio}


def test_train_page_refuses_the_issue_request_with_what_fits(monkeypatch, tmp_path):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("TC_MAX_JOBS", raising=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Train")).run()
    assert not at.exception
    k = "addsub_tiny"
    at.number_input(key=f"train_d_model_{k}").set_value(1024)
    at.selectbox(key=f"train_n_heads_{k}").set_value(16)
    at.number_input(key=f"train_n_layers_{k}").set_value(8)
    at.number_input(key=f"train_d_ff_{k}").set_value(4096)
    at.number_input(key=f"train_batch_{k}").set_value(1024).run()
    assert not at.exception and not at.error
    assert any("Estimated memory of this run" in c.value and "GB" in c.value for c in at.caption)
    at.button(key="train_start").click().run()
    assert not at.exception
    refusal = [e.value for e in at.error]
    assert len(refusal) == 1 and "this server allows 4.0 GB per run" in refusal[0], refusal
    assert "a batch of 1,024" in refusal[0] and "At these sizes a batch of at most" in refusal[0]
    from ui.jobs import job_slots

    assert job_slots().in_use() == 0  # nothing started
    monkeypatch.setenv("TC_JOB_MEMORY_MB", "2048")  # a TA's tighter budget: the weights alone do not fit
    at.button(key="train_start").click().run()
    refusal = [e.value for e in at.error]
    assert len(refusal) == 1 and "Make d_model, d_ff or the number of layers smaller" in refusal[0], refusal
    assert "this server allows 2.0 GB per run" in refusal[0]


def test_train_page_names_a_malformed_tc_job_threads_and_a_local_run_gets_the_threads_asked(monkeypatch, tmp_path):
    """TC_JOB_THREADS reaches a real local run: the page says it, the run's config (run.json and the checkpoint)
    has it; a malformed value is named on the page, which then trains nothing."""
    from tests.test_pages_train_generate import last_status, poll, stop_runs
    from trainers.checkpoint import load_checkpoint
    from ui.jobs import ACTIVE_STATUSES

    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    for name in ("TC_MAX_JOBS", "TC_RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TC_JOB_THREADS", "many")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Train")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["TC_JOB_THREADS='many' must be a whole number of at least 1."]
    assert "train_start" not in [b.key for b in at.button]

    monkeypatch.setenv("TC_JOB_THREADS", "3")
    at.run()
    assert not at.exception and not at.error
    assert any("each run uses 3 CPU thread(s)" in c.value for c in at.caption), [c.value for c in at.caption]
    try:
        at.button(key="train_start").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES, timeout=120)
        assert last_status(at) == "finished"
        run_id = at.session_state["train_runs"][-1].run_id
        state = json.loads((tmp_path / "runs" / run_id / "run.json").read_text())
        assert state["config"]["threads"] == 3
        _model, meta = load_checkpoint(tmp_path / "runs" / run_id / "checkpoint")
        assert meta.train_config["threads"] == 3
    finally:
        stop_runs()


@pytest.mark.parametrize(("widget", "value", "message"), [
    ("d_model", 5000, "d_model must be from 8 to 1,024 on this server; 5,000 was refused."),
    ("batch", 0, "batch size must be from 1 to 1,024 on this server; 0 was refused."),
    ("n_layers", 40, "layers must be from 1 to 8 on this server; 40 was refused."),
])
def test_out_of_range_values_are_refused_with_a_message_not_reset(monkeypatch, tmp_path, widget, value, message):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Train")).run()
    at.number_input(key=f"train_{widget}_addsub_tiny").set_value(value).run()
    assert not at.exception
    assert at.number_input(key=f"train_{widget}_addsub_tiny").value == value  # kept as typed, not reset
    assert [e.value for e in at.error] == [message]
    assert at.button(key="train_start").disabled


def test_a_shared_server_caps_the_time_limit_widget(monkeypatch, tmp_path):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TC_MAX_RUN_SECONDS", "300")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Train")).run()
    assert any("Runs stop after 300 s of training on this server." in c.value for c in at.caption)
    at.number_input(key="train_time_addsub_tiny").set_value(900.0).run()
    assert [e.value for e in at.error] == ["time limit in seconds must be from 0 to 300 on this server; 900 was refused."]
