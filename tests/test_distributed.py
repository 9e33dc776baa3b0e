"""Distributed training: `torchrun --nproc_per_node=2 -m trainers train` on CPU (gloo) keeps the ranks identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainers import data_paths
from trainers.checkpoint import resolve_checkpoint
from trainers.presets import preset_config
from trainers.tasks.addsub_task import AddSubTask

REPO = Path(__file__).resolve().parent.parent
needs_addsub = pytest.mark.skipif(
    not data_paths.addsub_path().is_file(), reason=f"course AddSub file absent: {data_paths.addsub_path()}"
)


@needs_addsub
def test_two_cpu_processes_train_with_ddp_and_end_with_identical_parameters(tmp_path):
    out = tmp_path / "ck"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "trainers", "train", "--task", "addsub", "--preset", "tiny", "--max-steps", "6", "--threads", "1",
         "--device", "cpu", "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--json", "--set", "eval_every=3"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])  # only rank 0 prints
    assert summary["status"] == "finished" and summary["steps"] == 6
    hashes = summary["extra"]["rank_param_sha256"]
    assert summary["extra"]["world_size"] == 2 and len(hashes) == 2
    assert hashes[0] == hashes[1]  # all-reduced gradients → bit-identical weights on both ranks
    meta = json.loads((resolve_checkpoint(out) / "config.json").read_text())
    assert meta["extra"]["rank_param_sha256"] == hashes
    assert meta["command"].startswith("torchrun --nproc_per_node=2 -m trainers train --task addsub")
    # Only rank 0 wrote TensorBoard logs (one run folder, one events file).
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and len(list(runs[0].glob("events.out.tfevents.*"))) == 1


@needs_addsub
def test_ranks_draw_disjoint_addsub_batches():
    config = preset_config("addsub", "tiny", batch_size=32)
    tasks = [AddSubTask(config, torch.device("cpu"), rank=r, world_size=2) for r in (0, 1)]
    seen = [set(), set()]
    for r, task in enumerate(tasks):
        for _ in range(len(task.train) // (2 * 32)):  # one epoch of this rank's shard
            task.next_batch()
        seen[r] = set(task._order)
    assert seen[0].isdisjoint(seen[1])  # DistributedSampler: each example on one rank per epoch
    assert len(seen[0]) + len(seen[1]) >= len(tasks[0].train) - 1


def test_language_model_ranks_read_different_columns(tmp_path):
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(4000)) + "\n"
    (tmp_path / "input.txt").write_text(text)
    from trainers.tasks.lm_task import LanguageModelTask

    config = preset_config("shakespeare", "tiny", data_dir=str(tmp_path), lm_batching="bptt", batch_size=4,
                           block_size=8)
    tasks = [LanguageModelTask(config, torch.device("cpu"), rank=r, world_size=2) for r in (0, 1)]
    grids = [t.train_grid for t in tasks]
    assert grids[0].shape == grids[1].shape == (len(tasks[0].corpus.train) // 8, 4)
    assert not torch.equal(grids[0], grids[1])
    # Together the two ranks cover the 8 columns of batchify(train, 4 × 2), in order.
    from trainers.tasks.lm import batchify

    assert torch.equal(torch.cat(grids, dim=1), batchify(tasks[0].corpus.train, 8))
