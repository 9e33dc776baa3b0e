"""Our Tiny Shakespeare training and sampling beside nanoGPT's CPU recipe, printed side by side.

    python benchmarks/speed_vs_nanogpt.py                 # everything, one thread (about 7 minutes)
    python benchmarks/speed_vs_nanogpt.py --quick         # step time and sampling only (about 1 minute)

The recipe is nanoGPT's CPU example for Tiny Shakespeare by character (its README, "I only have a
macbook"): 4 layers, d_model 128, 4 heads, context 64, batch 12, 2,000 iterations, no dropout. nanoGPT's
figures are quoted, not measured here: they are the measurements of issue 15 ("Speed: training 1.5×
faster, sampling without the context-window cliff"), taken on the course's 2-core machine with one thread
each, and nanoGPT's 2,000-iteration validation loss, 1.886 nats per character (its sampling figure is for
200 tokens). No nanoGPT code is part of this project.

Ours, measured live with one thread (``--threads``) in this process:
- the step time of the recipe's model (bf16 autocast, as ``precision="auto"`` picks on an AVX-512 CPU)
  with the settings of landed main (hand-written LayerNorm, bf16 attention, three Q/K/V products, AdamW
  loop) and with today's defaults, alternating, in this process;
- runs of the recipe's model with our optimiser settings (the Shakespeare "small" preset: AdamW lr 4e-3,
  50 warmup steps, cosine decay over the time budget) for 30, 60 and 98 s of wall clock: validation
  loss on the whole validation split at the end, training tokens/s, and the training time (periodic
  evaluations excluded; wall clock with them in brackets) at which a periodic evaluation (20 batches of
  12 × 64 characters, every 50 steps) first reached 1.886;
- sampling 600 tokens from the 98-s model (temperature 0.8, one thread; each token's fastest of 7 repeats):
  ms per token inside the 64-token context window (tokens 2–63) and past it (tokens 65–600, the window's
  rebuilds included);
- the LSTM baseline beside the transformer at 60 s (the "small" preset of each, as
  ``benchmarks/lstm_vs_transformer.py``).
The 1-minute load average is printed beside every figure: the machine is shared, so absolute times move
with it. Not a test: speed targets live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from trainers.presets import preset_config  # noqa: E402
from trainers.trainer import Callbacks, Trainer, _optimizer  # noqa: E402
from transformer.attention import MultiHeadAttention  # noqa: E402
from transformer.layers import LayerNorm  # noqa: E402
from transformer.sampling import generate  # noqa: E402

# nanoGPT's CPU recipe on the course machine, one thread: the figures quoted by issue 15.
NANOGPT = {
    "target_val_loss": 1.886,  # its validation loss after 2,000 iterations (nats per character)
    "time_to_target_s": (179.0, 202.0),  # wall clock for the 2,000 iterations, two runs
    "train_tokens_per_s": (10_000.0, 11_000.0),
    "sample_tokens_per_s": (230.0, 470.0),  # sampling 200 tokens, one thread
}
RECIPE_MODEL = {"n_layers": 4, "d_model": 128, "n_heads": 4, "d_ff": 512, "dropout": 0.0}
BUDGETS = (30.0, 60.0, 98.0)


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def recipe_config(**overrides):
    """The recipe's model and batch with the Shakespeare "small" preset's optimiser settings."""
    base = dict(model=RECIPE_MODEL, batch_size=12, block_size=64, tensorboard=False, precision="auto",
                eval_every=50, eval_batches=20)
    base.update(overrides)
    return preset_config("shakespeare", "small", **base)


def set_landed_main(on: bool) -> None:
    """Switch the core between landed main's settings (on) and today's defaults (off)."""
    LayerNorm.fused = not on
    MultiHeadAttention.float32_under_autocast = () if on else ("cpu",)
    MultiHeadAttention.fuse_qkv = not on


def step_times(threads: int, steps: int = 15, rounds: int = 4) -> dict[str, tuple[float, float]]:
    """Best ms per optimiser step of the recipe's model, landed main's settings vs today's, alternating."""
    trainer = Trainer(recipe_config(max_steps=1, threads=threads))
    trainer.setup()
    model, task = trainer.model, trainer.task
    loss_module = task.loss_module(model)
    optimizers = {"landed main": _optimizer(model, trainer.config), "now": _optimizer(model, trainer.config)}
    for group in optimizers["landed main"].param_groups:
        group["fused"] = False  # landed main's per-parameter AdamW loop
    optimizers["landed main"].defaults["fused"] = False
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, optimizer in optimizers.items():
            set_landed_main(name == "landed main")
            times = []
            for i in range(steps + 3):
                batch, _ = task.next_batch()
                t = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    loss = loss_module(*batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                if i >= 3:
                    times.append(time.perf_counter() - t)
            best[name] = min(best.get(name, float("inf")), 1000 * sum(times) / len(times))
    set_landed_main(False)
    return {name: (ms, load()) for name, ms in best.items()}


def timed_run(budget: float, threads: int, arch: str = "transformer", preset_shape: bool = False) -> dict:
    """Train for ``budget`` seconds; returns the summary figures, the eval history and the model."""
    evals: list[tuple[float, float, float]] = []  # (training s, wall s, val loss) of the periodic evaluations
    state = {"last_step_s": 0.0, "eval_s": 0.0}

    def on_step(info) -> None:
        state["last_step_s"] = info.elapsed_s

    def on_eval(info) -> None:
        if not info.final:
            evals.append((state["last_step_s"] - state["eval_s"], info.elapsed_s, info.val_loss))
            state["eval_s"] += info.elapsed_s - state["last_step_s"]  # this evaluation's duration

    overrides = {"max_steps": None, "max_time_s": budget, "threads": threads, "family": arch}
    if preset_shape:
        config = preset_config("shakespeare", "small", tensorboard=False,
                               **overrides, **({"model": {"n_heads": 1}} if arch == "lstm" else {}))
    else:
        config = recipe_config(**overrides)
    before = load()
    trainer = Trainer(config, callbacks=Callbacks(on_step=on_step, on_eval=on_eval))
    summary = trainer.fit()
    reached = next(((t, wall) for t, wall, loss in evals if loss <= NANOGPT["target_val_loss"]), None)
    return {
        "budget": budget, "arch": arch, "steps": summary.steps, "tokens_per_s": summary.tokens_per_s,
        "val_loss": summary.final_metrics.get("val_loss", float("nan")), "time_to_target": reached,
        "load": (before + load()) / 2, "model": trainer.model, "evals": evals,
    }


def sampling_costs(model, threads: int, n_tokens: int = 600, repeats: int = 7) -> dict:
    """ms per token inside the context window and past it, sampling ``n_tokens`` after a 1-token prompt.

    The same seeded text is sampled ``repeats`` times; each token's time is its fastest of the repeats
    (other work on a shared machine only ever adds time), then averaged inside the window (tokens 2 …
    max_len − 1) and past it (tokens max_len + 1 … n_tokens, the steps that rebuild the window included).
    """
    torch.set_num_threads(threads)
    max_len = model.config.max_len
    fastest = [float("inf")] * n_tokens
    for _ in range(repeats):
        t = time.perf_counter()
        for i, _record in enumerate(generate(model, [1], n_tokens, temperature=0.8, seed=0)):
            now = time.perf_counter()
            fastest[i] = min(fastest[i], now - t)
            t = now
    inside, past = fastest[1 : max_len - 1], fastest[max_len:]
    return {"inside": 1000 * sum(inside) / len(inside), "past": 1000 * sum(past) / len(past),
            "max_len": max_len, "load": load()}


def ratio_range(ours: float, theirs: tuple[float, float], ours_over_theirs: bool = True) -> str:
    lo, hi = (ours / theirs[1], ours / theirs[0]) if ours_over_theirs else (theirs[0] / ours, theirs[1] / ours)
    return f"{lo:.1f}–{hi:.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the reference)")
    parser.add_argument("--quick", action="store_true", help="step times and sampling only (a 30-s model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"step time of the recipe's model, best of 4 × 15 steps (threads {args.threads}) …", file=sys.stderr)
    steps = step_times(args.threads)
    budgets = (30.0,) if args.quick else BUDGETS
    runs = []
    for budget in budgets:
        print(f"training the recipe for {budget:.0f} s …", file=sys.stderr, flush=True)
        runs.append(timed_run(budget, args.threads))
    sampled = sampling_costs(runs[-1]["model"], args.threads)
    lstm_rows = []
    if not args.quick:
        for arch in ("transformer", "lstm"):
            print(f"training the small preset's {arch} for 60 s …", file=sys.stderr, flush=True)
            lstm_rows.append(timed_run(60.0, args.threads, arch=arch, preset_shape=True))

    print(f"\nOne optimiser step of the recipe's model (batch 12 × 64, bf16 autocast, {args.threads} thread):")
    print("| settings | ms/step | load |\n| --- | ---: | ---: |")
    for name, (ms, ld) in steps.items():
        print(f"| {name} | {ms:.1f} | {ld:.2f} |")
    print(f"\nspeed-up: {steps['landed main'][0] / steps['now'][0]:.2f}×")

    final = runs[-1]
    reached = final["time_to_target"]
    sample_tps = 1000 / sampled["past"]
    print(f"\nnanoGPT's recipe (quoted) beside ours (measured, {args.threads} thread):")
    print("| measure | nanoGPT | ours | ratio | load |\n| --- | ---: | ---: | ---: | ---: |")
    lo, hi = NANOGPT["time_to_target_s"]
    if reached is None:
        print(f"| time to val loss {NANOGPT['target_val_loss']} | {lo:.0f}–{hi:.0f} s | not reached in "
              f"{final['budget']:.0f} s | – | {final['load']:.2f} |")
    else:
        train_s, wall_s = reached
        print(f"| time to val loss {NANOGPT['target_val_loss']} | {lo:.0f}–{hi:.0f} s | {train_s:.0f} s training "
              f"({wall_s:.0f} s wall with evaluations) | ours in {train_s / hi:.2f}–{train_s / lo:.2f} "
              f"({wall_s / hi:.2f}–{wall_s / lo:.2f} wall) of nanoGPT's time | {final['load']:.2f} |")
    for run in runs:
        print(f"| val loss after {run['budget']:.0f} s (whole split) | – | {run['val_loss']:.3f} "
              f"({run['steps']:,} steps) | – | {run['load']:.2f} |")
    tlo, thi = NANOGPT["train_tokens_per_s"]
    print(f"| training tokens/s | {tlo / 1000:.0f}–{thi / 1000:.0f}k | {final['tokens_per_s'] / 1000:.1f}k | "
          f"{ratio_range(final['tokens_per_s'], NANOGPT['train_tokens_per_s'])} | {final['load']:.2f} |")
    slo, shi = NANOGPT["sample_tokens_per_s"]
    print(f"| sampling, ms/token inside the {sampled['max_len']}-token window | – | {sampled['inside']:.2f} | – | "
          f"{sampled['load']:.2f} |")
    print(f"| sampling past the window, tokens/s | {slo:.0f}–{shi:.0f} | {sample_tps:.0f} "
          f"({sampled['past']:.2f} ms/token) | {ratio_range(sample_tps, NANOGPT['sample_tokens_per_s'])} | "
          f"{sampled['load']:.2f} |")
    print(f"| past / inside the window, cost per token | – | {sampled['past'] / sampled['inside']:.2f} | – | "
          f"{sampled['load']:.2f} |")
    if lstm_rows:
        print("\nThe LSTM beside the transformer, Shakespeare \"small\" preset of each, 60 s:")
        print("| model | steps | tokens/s | val loss (nats/char) | load |\n| --- | ---: | ---: | ---: | ---: |")
        for row in lstm_rows:
            print(f"| {row['arch']} | {row['steps']:,} | {row['tokens_per_s']:,.0f} | {row['val_loss']:.3f} | "
                  f"{row['load']:.2f} |")
    print("\nperiodic evaluations of the longest run (training s, val loss):",
          ", ".join(f"{t:.0f}:{v:.3f}" for t, _, v in final["evals"]))


if __name__ == "__main__":
    main()
