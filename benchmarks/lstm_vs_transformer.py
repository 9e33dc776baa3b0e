"""The LSTM baseline against the transformer at an equal wall-clock budget, printed side by side.

    python benchmarks/lstm_vs_transformer.py                        # Shakespeare 60 s, WikiText-2 120 s per model
    python benchmarks/lstm_vs_transformer.py --tasks shakespeare --budget 30 --threads 2

Both models of a task train with the task's "small" preset (same d_model, layers, dropout, batch size,
context of 64 tokens, learning rate, schedule, data pipeline and Trainer), back to back; only ``arch``
differs. On WikiText-2 both use the same adaptive softmax with tied adaptive input (the word-level output
layer dominates a CPU step, so this keeps the comparison about recurrence against attention). The LSTM
ties its embedding and output layer; it has no heads, d_ff or positional encoding.

Reported: parameters, optimiser steps and training tokens per second within the budget, and the final
validation loss on the whole validation split (nats per token; nats per character for Shakespeare,
perplexity per word for WikiText-2). The 1-minute load average before each run shows how busy the
machine was. Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainers.presets import preset_config  # noqa: E402
from trainers.trainer import Trainer  # noqa: E402

DEFAULT_BUDGETS = {"shakespeare": 60.0, "wikitext2": 120.0}
METRICS = {"shakespeare": ("nats_per_char", "nats/char"), "wikitext2": ("word_perplexity", "ppl/word")}


def run(task: str, arch: str, budget: float, threads: int | None) -> dict:
    overrides = {"family": arch, "max_steps": None, "max_time_s": budget, "tensorboard": False, "threads": threads}
    if arch == "lstm":
        overrides["model"] = {"n_heads": 1}  # an LSTM has no heads
    config = preset_config(task, "small", **overrides)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    trainer = Trainer(config)
    summary = trainer.fit()
    total = time.perf_counter() - t0
    key, unit = METRICS[task]
    return {
        "task": task,
        "arch": arch,
        "budget": budget,
        "params": sum(p.numel() for p in trainer.model.parameters()),
        "steps": summary.steps,
        "tokens_per_s": summary.tokens_per_s,
        "train_s": summary.train_time_s,
        "total_s": total,
        "val_loss": summary.final_metrics.get("val_loss", float("nan")),
        "metric": summary.final_metrics.get(key, float("nan")),
        "unit": unit,
        "load": load,
        "precision": summary.extra.get("precision", "float32"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=list(DEFAULT_BUDGETS), choices=list(DEFAULT_BUDGETS))
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of training per model (default: 60 for Shakespeare, 120 for WikiText-2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    rows = []
    for task in args.tasks:
        budget = args.budget or DEFAULT_BUDGETS[task]
        for arch in ("transformer", "lstm"):  # back to back, so both see about the same machine load
            print(f"training {task} {arch} for {budget:.0f} s …", file=sys.stderr, flush=True)
            rows.append(run(task, arch, budget, args.threads))
    header = (
        f"{'task':<12} {'arch':<12} {'budget':>6} {'params':>10} {'steps':>6} {'tok/s':>8} {'train s':>8} "
        f"{'total s':>8} {'val loss':>9} {'metric':>14} {'precision':>9} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        metric = f"{r['metric']:.3f} {r['unit']}" if r["unit"] == "nats/char" else f"{r['metric']:.1f} {r['unit']}"
        print(
            f"{r['task']:<12} {r['arch']:<12} {r['budget']:>5.0f}s {r['params']:>10,} {r['steps']:>6} "
            f"{r['tokens_per_s']:>8,.0f} {r['train_s']:>8.1f} {r['total_s']:>8.1f} {r['val_loss']:>9.4f} "
            f"{metric:>14} {r['precision']:>9} {r['load']:>5.2f}"
        )


if __name__ == "__main__":
    main()
