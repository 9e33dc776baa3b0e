"""What recording attention snapshots costs a training run: the same run with and without, side by side.

    python benchmarks/snapshot_overhead.py                 # AddSub small, Tiny Shakespeare small, one thread
    python benchmarks/snapshot_overhead.py --steps 400 --repeats 3 --threads 2

Each task's *small* preset model is trained for ``--steps`` optimiser steps without snapshots, with the Train
page's default spacing (about 40 snapshots a run) and with a snapshot every 10 steps, alternating so that the
machine's load falls on all three alike; the table gives the median training-loop time of each, the time spent
recording (measured inside the trainer) and the share of training it is. No evaluation runs in between, so the
loop is all training. Not a test: timings depend on the machine and its load (the 1-minute load average is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from trainers.presets import preset_config  # noqa: E402
from trainers.snapshots import default_snapshot_every  # noqa: E402
from trainers.trainer import Trainer  # noqa: E402


def run(task: str, steps: int, every: int | None, threads: int) -> tuple[float, float, int]:
    """(training-loop seconds, seconds spent recording, snapshots) of one run."""
    config = preset_config(task, "small", max_steps=steps, max_time_s=None, eval_every=10 * steps, final_eval=False,
                           tensorboard=False, threads=threads, snapshot_every=every, out_dir="/tmp/snapshot_overhead")
    trainer = Trainer(config)
    summary = trainer.fit()
    snaps = trainer.snapshots
    return summary.train_time_s, (snaps.record_time_s if snaps else 0.0), (len(snaps) if snaps else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["addsub", "shakespeare"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default_every = default_snapshot_every(args.steps)
    print(f"{args.steps} steps per run, {args.threads} thread(s), median of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print("| task (small preset) | snapshots | every | training, none (s) | training, with (s) | recording (s) "
          "| recording / training |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for task in args.tasks:
        run(task, 5, None, args.threads)  # warm-up: data and kernels
        times: dict = {None: [], default_every: [], 10: []}
        records: dict = {default_every: [], 10: []}
        counts: dict = {}
        for _ in range(args.repeats):
            for every in times:
                t, rec, n = run(task, args.steps, every, args.threads)
                times[every].append(t)
                if every is not None:
                    records[every].append(rec)
                    counts[every] = n
        base = statistics.median(times[None])
        for every in (default_every, 10):
            with_t, rec = statistics.median(times[every]), statistics.median(records[every])
            print(f"| {task} | {counts[every]} | {every} | {base:.2f} | {with_t:.2f} | {rec:.3f} | "
                  f"{rec / with_t:.1%} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
