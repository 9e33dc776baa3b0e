"""Time our attention against PyTorch's for T = 64 … 1024 and print a side-by-side table.

    python benchmarks/attention.py [--d-model 64] [--heads 4] [--batch 4] [--repeats 7] [--max-t 1024]
    python benchmarks/attention.py --compare-malloc   # also re-run with glibc malloc tuned (fewer page faults)

Targets (issue 2): our fast path within 1.1× of F.scaled_dot_product_attention; our weights path within 2×
of it up to T = 256. The weights path materialises the (B, H, T, T) weights, so it grows as T².
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from transformer.cost import PATHS, fit_loglog_slope, measure_attention_cost  # noqa: E402

# Keep freed memory in the heap instead of returning it to the kernel after every call: glibc's
# default mmap/trim thresholds make the explicit path page-fault on every (B, H, T, T) allocation.
TUNED_MALLOC = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--max-t", type=int, default=1024)
    parser.add_argument("--compare-malloc", action="store_true", help="also run with GLIBC_TUNABLES set")
    args = parser.parse_args()

    lengths = [t for t in (64, 128, 256, 512, 1024) if t <= args.max_t]
    paths = list(PATHS)
    label = "tuned malloc" if os.environ.get("GLIBC_TUNABLES") else "default malloc"
    print(f"# attention forward, B={args.batch}, d_model={args.d_model}, H={args.heads}, "
          f"threads={torch.get_num_threads()}, {label}; best of {args.repeats}, milliseconds")
    rows = measure_attention_cost(lengths, paths, args.d_model, args.heads, args.batch, args.repeats)
    ms = {(r.path, r.T): r.seconds * 1e3 for r in rows}
    header = f"{'T':>5} | " + " | ".join(f"{p:>12}" for p in paths) + " | fast/sdpa | weights/sdpa | T×T MiB"
    print(header)
    print("-" * len(header))
    for T in lengths:
        cells = " | ".join(f"{ms[(p, T)]:12.3f}" for p in paths)
        sdpa = ms[("torch_sdpa", T)]
        mib = next(r.weights_bytes for r in rows if r.T == T) / 2**20
        print(f"{T:>5} | {cells} | {ms[('ours_fast', T)] / sdpa:9.2f} | {ms[('ours_weights', T)] / sdpa:12.2f} "
              f"| {mib:7.1f}")
    for p in paths:
        slope = fit_loglog_slope(lengths[-3:], [ms[(p, T)] for T in lengths[-3:]])
        print(f"log-log slope of {p} over T={lengths[-3]}…{lengths[-1]}: {slope:.2f}")

    if args.compare_malloc and not os.environ.get("GLIBC_TUNABLES"):
        print()
        env = {**os.environ, "GLIBC_TUNABLES": TUNED_MALLOC}
        argv = [a for a in sys.argv[1:] if a != "--compare-malloc"]
        subprocess.run([sys.executable, __file__, *argv], env=env, check=True)


if __name__ == "__main__":
    main()
