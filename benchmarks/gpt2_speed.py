"""GPT-2 small's shape in our core: tokens per second generating with the KV cache, against the memory bound.

    python benchmarks/gpt2_speed.py                  # 2 threads, 100 new tokens, 3 repeats, transformers beside
    python benchmarks/gpt2_speed.py --threads 1 --new-tokens 50 --repeats 1 --no-reference

The model is GPT-2 small's shape (12 layers, d_model 768, 12 heads, n_positions 1024, vocabulary 50,257:
124M parameters) loaded from a config only: random weights cost exactly what trained ones cost. It samples
``--new-tokens`` tokens greedily after an 8-token prompt with ``transformer.sampling.generate`` (KV cache).

What bounds it: each new token reads every weight once (the tied 50,257 × 768 output layer included),
about 0.5 GB in float32, while its arithmetic is only ~2 FLOPs per weight. So a token cannot take less
than (bytes of weights) / (memory bandwidth). The script measures the bandwidth it can get on the same
threads (copying a 512 MB tensor) and prints the bound beside the measured rate. With ``transformers``
installed (a test dependency) the same shape runs through ``GPT2LMHeadModel.generate`` (greedy, KV cache)
as a reference column. Not a test: timings depend on the machine and on what else runs on it (the
1-minute load average is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainers.gpt2 import gpt2_config  # noqa: E402
from transformer.models import DecoderOnlyLM  # noqa: E402
from transformer.sampling import generate  # noqa: E402

GPT2_SMALL = {"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
              "vocab_size": 50257, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931]  # 8 ids ("The quick brown fox jumps over the lazy")


def bandwidth_gb_s(threads: int, size_mb: int = 512, repeats: int = 5) -> float:
    """Memory bandwidth a copy reaches on ``threads`` threads: bytes read + written per second, best of ``repeats``."""
    torch.set_num_threads(threads)
    src = torch.ones(size_mb * 2**20 // 4)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * 4 / best / 1e9


def ours_tokens_per_s(model: DecoderOnlyLM, n_new: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        steps = list(generate(model, PROMPT, n_new, temperature=0, n_candidates=1))
        best = min(best, time.perf_counter() - start)
        assert len(steps) == n_new
    return n_new / best


def reference_tokens_per_s(n_new: int, repeats: int) -> float | None:
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    config = GPT2Config(**{k: v for k, v in GPT2_SMALL.items() if k != "model_type"})
    model = GPT2LMHeadModel(config).eval()
    ids = torch.tensor([PROMPT])
    best = float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n_new,
                                 min_new_tokens=n_new, pad_token_id=0)
            best = min(best, time.perf_counter() - start)
            assert out.shape[1] == len(PROMPT) + n_new
    return n_new / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="whole generations timed; the fastest is kept")
    parser.add_argument("--no-reference", action="store_true", help="skip transformers' generate")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = DecoderOnlyLM(gpt2_config(GPT2_SMALL)).eval()
    n_params = sum(p.numel() for p in model.parameters())  # tied output layer counted once
    weight_gb = n_params * 4 / 1e9
    gb_s = bandwidth_gb_s(args.threads)
    bound = gb_s / 2 / weight_gb  # a copy moves each byte twice (read + write); a token only reads its weights
    load = os.getloadavg()[0]
    ours = ours_tokens_per_s(model, args.new_tokens, args.repeats)
    del model
    reference = None if args.no_reference else reference_tokens_per_s(args.new_tokens, args.repeats)

    print(f"GPT-2 small shape: {n_params / 1e6:.1f}M parameters, {weight_gb:.2f} GB of float32 weights read per token; "
          f"{args.threads} threads, {args.new_tokens} new tokens after {len(PROMPT)}, best of {args.repeats}; "
          f"1-minute load {load:.1f}")
    print()
    print("| measure | tokens/s | ms/token | share of the memory bound |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| memory bound ({gb_s:.1f} GB/s copy → {gb_s / 2:.1f} GB/s read) | {bound:.1f} | {1000 / bound:.1f} | 1.00 |")
    print(f"| ours: transformer.sampling.generate, KV cache | {ours:.1f} | {1000 / ours:.1f} | {ours / bound:.2f} |")
    if reference is not None:
        print(f"| transformers GPT2LMHeadModel.generate (reference) | {reference:.1f} | {1000 / reference:.1f} | "
              f"{reference / bound:.2f} |")
        print(f"\nours / transformers: {ours / reference:.2f}×")


if __name__ == "__main__":
    main()
