"""Self-attention exactly as Understanding Deep Learning ch. 12 writes it (NumPy, column convention).

In the book each input x_n is a column of X (D × N), so Q = β_q 1ᵀ + Ω_q X and the attention
weights are softmax over the *columns* of Kᵀ Q (each column sums to 1); X′ = V · Softmax[Kᵀ Q]
(the matrix form, eqs. 12.6–12.8; scaled by √D_q in eq. 12.9). The row convention of :mod:`transformer.attention` is its transpose.
These functions back the "textbook example" mode: they reproduce the numbers of the ML HW10 notebooks
(seed 001), which are the book's notebooks 12.1 and 12.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "TextbookExample",
    "multihead_scaled_self_attention",
    "self_attention",
    "softmax_cols",
    "udl_example_12_1",
    "udl_example_12_2",
]


def softmax_cols(data_in: np.ndarray) -> np.ndarray:
    """Softmax of each column (UDL eq. 12.5): exp, then divide by the column sum. (M, N) → (M, N)."""
    exp_values = np.exp(data_in - data_in.max(axis=0, keepdims=True))  # shifted for stability
    return exp_values / exp_values.sum(axis=0, keepdims=True)


def self_attention(
    X: np.ndarray,
    omega_v: np.ndarray,
    omega_q: np.ndarray,
    omega_k: np.ndarray,
    beta_v: np.ndarray,
    beta_q: np.ndarray,
    beta_k: np.ndarray,
    scaled: bool = False,
) -> np.ndarray:
    """Sa[X] = V[X] · Softmax[K[X]ᵀ Q[X]] (UDL eqs. 12.6–12.8); with ``scaled``, Kᵀ Q / √D_q (eq. 12.9).

    X (D, N): N inputs as columns; omega_* (D_a, D); beta_* (D_a, 1). Returns X′ (D_a, N).
    """
    values = beta_v + omega_v @ X  # (D_a, N)
    queries = beta_q + omega_q @ X  # (D_a, N)
    keys = beta_k + omega_k @ X  # (D_a, N)
    dot_products = keys.T @ queries  # (N, N): entry (m, n) = k_mᵀ q_n
    if scaled:
        dot_products = dot_products / np.sqrt(queries.shape[0])
    attention = softmax_cols(dot_products)  # column n: how much output n takes from each input m
    return values @ attention  # (D_a, N)


def multihead_scaled_self_attention(
    X: np.ndarray,
    heads: list[tuple[np.ndarray, ...]],
    omega_c: np.ndarray,
) -> np.ndarray:
    """MhSa[X] = Ω_c [Sa_1[X]ᵀ, …, Sa_H[X]ᵀ]ᵀ with scaled heads (UDL eq. 12.12).

    X (D, N); ``heads``: one (omega_q, omega_k, omega_v, beta_q, beta_k, beta_v) per head, omegas
    (D/H, D) and betas (D/H, 1); omega_c (D, D). Returns (D, N).
    """
    outputs = [
        self_attention(X, omega_v, omega_q, omega_k, beta_v, beta_q, beta_k, scaled=True)
        for omega_q, omega_k, omega_v, beta_q, beta_k, beta_v in heads
    ]
    return omega_c @ np.vstack(outputs)  # (D, D) @ (D, N)


@dataclass
class TextbookExample:
    """A worked example: its inputs, parameters and the expected output printed in the notebook."""

    X: np.ndarray  # (D, N), inputs as columns
    params: dict  # the parameters, named as in the book
    expected: np.ndarray  # (D, N), the notebook's "true values"
    decimals: int  # how many decimals the expected values were printed with


def udl_example_12_1() -> TextbookExample:
    """UDL notebook 12.1 (seed 001 part 1): N=3 inputs of D=4, one unscaled head.

    ``np.random.seed(3)``: the inputs; then ``np.random.seed(0)``: Ω_q, Ω_k, Ω_v (D × D), β_q, β_k, β_v.
    """
    np.random.seed(3)
    N, D = 3, 4
    all_x = [np.random.normal(size=(D, 1)) for _ in range(N)]
    X = np.hstack(all_x)  # (D, N)
    np.random.seed(0)
    omega_q = np.random.normal(size=(D, D))
    omega_k = np.random.normal(size=(D, D))
    omega_v = np.random.normal(size=(D, D))
    beta_q = np.random.normal(size=(D, 1))
    beta_k = np.random.normal(size=(D, 1))
    beta_v = np.random.normal(size=(D, 1))
    expected = np.array(
        [
            [0.94744244, 1.64201168, 1.61949281],
            [-0.24348429, -0.08470004, -0.06641533],
            [-0.91310441, 4.02764044, 3.96863308],
            [-0.44522983, 2.18690791, 2.15858316],
        ]
    )
    params = dict(omega_q=omega_q, omega_k=omega_k, omega_v=omega_v, beta_q=beta_q, beta_k=beta_k, beta_v=beta_v)
    return TextbookExample(X=X, params=params, expected=expected, decimals=8)


def udl_example_12_2() -> TextbookExample:
    """UDL notebook 12.2 (seed 001 part 2): N=6 inputs of D=8, H=2 scaled heads of H_D=4, then Ω_c.

    ``np.random.seed(3)``: X (D × N); then ``np.random.seed(0)``: for head 1, then head 2, Ω_q, Ω_k, Ω_v
    (H_D × D) and β_q, β_k, β_v (H_D × 1); then Ω_c (D × D). ``params["heads"]`` lists each head as
    (omega_q, omega_k, omega_v, beta_q, beta_k, beta_v).
    """
    np.random.seed(3)
    N, D, H = 6, 8, 2
    H_D = D // H
    X = np.random.normal(size=(D, N))
    np.random.seed(0)
    heads = []
    for _ in range(H):
        omega_q = np.random.normal(size=(H_D, D))
        omega_k = np.random.normal(size=(H_D, D))
        omega_v = np.random.normal(size=(H_D, D))
        beta_q = np.random.normal(size=(H_D, 1))
        beta_k = np.random.normal(size=(H_D, 1))
        beta_v = np.random.normal(size=(H_D, 1))
        heads.append((omega_q, omega_k, omega_v, beta_q, beta_k, beta_v))
    omega_c = np.random.normal(size=(D, D))
    expected = np.array(
        [
            [-21.207, -5.373, -20.933, -9.179, -11.319, -17.812],
            [-1.995, 7.906, -10.516, 3.452, 9.863, -7.24],
            [5.479, 1.115, 9.244, 0.453, 5.656, 7.089],
            [-7.413, -7.416, 0.363, -5.573, -6.736, -0.848],
            [-11.261, -9.937, -4.848, -8.915, -13.378, -5.761],
            [3.548, 10.036, -2.244, 1.604, 12.113, -2.557],
            [4.888, -5.814, 2.407, 3.228, -4.232, 3.71],
            [1.248, 18.894, -6.409, 3.224, 19.717, -5.629],
        ]
    )
    return TextbookExample(X=X, params=dict(heads=heads, omega_c=omega_c), expected=expected, decimals=3)
