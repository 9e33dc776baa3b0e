"""The cost-of-attention helpers: sizes, slope fitting, and a real (small) measurement."""

import math
import time

import pytest

from transformer.cost import attention_weights_bytes, fit_loglog_slope, measure_attention_cost, time_call


def test_weights_bytes_grow_as_t_squared():
    assert attention_weights_bytes(256, n_heads=4) == 4 * 256 * 256 * 4
    assert attention_weights_bytes(512, 4) == 4 * attention_weights_bytes(256, 4)


def test_slope_of_a_power_law_is_its_exponent():
    lengths = [64, 128, 256, 512]
    assert math.isclose(fit_loglog_slope(lengths, [3e-6 * t**2 for t in lengths]), 2.0, rel_tol=1e-9)
    # seed 004's measurement: 63.1 ms at 256 tokens, 254 ms at 512
    assert math.isclose(fit_loglog_slope([256, 512], [0.0631, 0.254]), 2.0, abs_tol=0.02)
    with pytest.raises(ValueError):
        fit_loglog_slope([1], [1.0])
    with pytest.raises(ValueError, match="different lengths"):
        fit_loglog_slope([64, 64], [1.0, 2.0])


def test_slope_is_the_least_squares_fit_of_the_logs():
    lengths, values = [16, 32, 64, 128], [1.0, 3.0, 15.0, 40.0]  # noisy: no single exponent fits
    xs, ys = [math.log(t) for t in lengths], [math.log(v) for v in values]
    mx, my = sum(xs) / 4, sum(ys) / 4
    expected = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    assert math.isclose(fit_loglog_slope(lengths, values), expected, rel_tol=1e-9)


def test_time_call_times_one_call_with_the_benchmark_timer():
    calls = []
    seconds = time_call(lambda: (calls.append(1), time.sleep(0.005)), repeats=3)
    assert 0.004 < seconds < 0.5  # one call's time, not three's
    assert len(calls) == 3 * 3  # each timed call after the Timer's two warm-up calls
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)


def test_measurement_returns_one_positive_row_per_path_and_length():
    rows = measure_attention_cost([16, 32], paths=("ours_weights", "torch_sdpa"), repeats=1)
    assert [(r.path, r.T) for r in rows] == [("ours_weights", 16), ("torch_sdpa", 16),
                                             ("ours_weights", 32), ("torch_sdpa", 32)]
    assert all(r.seconds > 0 for r in rows)
    with pytest.raises(ValueError, match="unknown"):
        measure_attention_cost([16], paths=("flash",))
