"""From logits to tokens: temperature, top-k, top-p (nucleus) sampling, and the decoder-only generation loop.

Encoder-decoders (AddSub, translation) decode with :mod:`transformer.decoding` (greedy and beam search).

Shape legend: B batch, T sequence length, V vocabulary size.

Sources: Ackley et al. 1985 / Hinton et al. 2015 (softmax temperature); Fan et al. 2018 (top-k);
Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration" §3.1 (top-p / nucleus).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from .models import DecoderOnlyLM

__all__ = [
    "IncrementalLM",
    "StepRecord",
    "context_start",
    "default_stride",
    "filter_log_probs",
    "generate",
    "sample_next",
]


def _check_settings(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0 (0 means greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top-k must be at least 1 (or None for no limit), got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top-p must be in (0, 1] (or None for no limit), got {top_p}")


def filter_log_probs(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """The log-probabilities a token is drawn from: log softmax(logits / temperature), then truncated.

    logits (…, V) → log-probs (…, V), −inf outside the kept set, renormalised over it. The division
    happens in log space (``log_softmax``), so temperatures down to 0.05 stay finite. Temperature 0
    keeps only the arg-max (greedy). top-k keeps the k most probable tokens; top-p keeps the smallest
    set of most probable tokens whose probability sums to at least p (the first always kept).
    Raises ValueError on a negative temperature, top_k < 1 or top_p outside (0, 1].
    """
    _check_settings(temperature, top_k, top_p)
    logits = logits.float()
    if temperature == 0:
        keep = torch.zeros_like(logits, dtype=torch.bool)
        keep.scatter_(-1, logits.argmax(dim=-1, keepdim=True), True)
        return torch.zeros_like(logits).masked_fill(~keep, float("-inf"))
    log_probs = torch.log_softmax(logits / temperature, dim=-1)
    if top_k is not None and top_k < log_probs.shape[-1]:
        kth = torch.topk(log_probs, top_k, dim=-1).values[..., -1:]  # (…, 1)
        log_probs = log_probs.masked_fill(log_probs < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_lp, order = torch.sort(log_probs, dim=-1, descending=True)
        cumulative = sorted_lp.exp().cumsum(dim=-1)
        # Drop a token when the tokens before it already reach p (so the first is always kept).
        drop_sorted = (cumulative - sorted_lp.exp()) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        log_probs = log_probs.masked_fill(drop, float("-inf"))
    return torch.log_softmax(log_probs, dim=-1)  # renormalise over the kept tokens


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw the next token id for each row: logits (B, V) → ids (B,), or (V,) → a 0-d tensor.

    Temperature 0 is greedy (arg-max). ``generator`` makes the draw reproducible.
    Raises ValueError as :func:`filter_log_probs`.
    """
    log_probs = filter_log_probs(logits, temperature, top_k, top_p)
    if temperature == 0:
        return log_probs.argmax(dim=-1)
    probs = log_probs.exp()
    flat = probs.reshape(-1, probs.shape[-1])
    # Draw on the CPU so that a seeded CPU generator gives the same text on every device.
    ids = torch.multinomial(flat.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)
    return ids.reshape(probs.shape[:-1])


class IncrementalLM(Protocol):
    """What :func:`generate` needs of a language model (``DecoderOnlyLM``, or e.g. an LSTM outside this package).

    - ``config.max_len``: the longest window of tokens the model reads; longer text slides the window
      (:func:`context_start`);
    - ``new_cache()``: an empty incremental-decoding state (a KV cache, a recurrent hidden state, …);
    - ``model(ids (1, T), cache=cache)`` → logits (1, T, V): reads the T tokens that follow those the cache
      holds, and updates the cache in place; ``model(ids)`` reads a whole window from scratch;
    - ``parameters()`` (for the device) and ``eval()``, as every ``nn.Module``.
    """

    config: Any

    def new_cache(self) -> Any: ...

    def __call__(self, input_ids: Tensor, cache: Any = None) -> Tensor: ...

    def parameters(self) -> Iterator[Tensor]: ...

    def eval(self) -> Any: ...


@dataclass
class StepRecord:
    """One generated token: what was chosen and what it was chosen from.

    ``prob``: its probability under the distribution it was drawn from (after temperature, top-k,
    top-p); ``model_prob``: its probability under the model's plain softmax (temperature 1);
    ``candidates``: the most probable tokens of the drawn-from distribution as (id, prob, model_prob);
    ``context``: how many of the tokens before it the model read (the window, see :func:`context_start`).
    """

    step: int
    token_id: int
    prob: float
    model_prob: float
    candidates: list[tuple[int, float, float]] = field(default_factory=list)
    context: int = 0


def context_start(length: int, max_len: int, stride: int) -> int:
    """Index of the first token the model reads when ``length`` tokens come before the one to predict.

    Up to ``max_len`` tokens the model reads them all (start 0). Past that the window jumps forward by
    ``stride`` tokens at a time: start = stride · ⌈(length − max_len) / stride⌉, so the model reads the
    last ``length − start`` tokens, between ``max_len − stride + 1`` and ``max_len`` of them, and the start
    moves only once every ``stride`` tokens. ``stride=1`` is the classic sliding window (always exactly
    the last ``max_len`` tokens). Raises ValueError unless 1 ≤ stride ≤ max_len.
    """
    if not 1 <= stride <= max_len:
        raise ValueError(f"the window's stride must be between 1 and max_len={max_len}, got {stride}")
    if length <= max_len:
        return 0
    return stride * -(-(length - max_len) // stride)  # ceil((length - max_len) / stride) strides


def default_stride(max_len: int) -> int:
    """How far the context window jumps past ``max_len`` tokens unless told otherwise: half the window (≥ 1)."""
    return max(1, max_len // 2)


@torch.no_grad()
def generate(
    model: DecoderOnlyLM | IncrementalLM,
    prompt_ids: list[int] | Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    use_cache: bool = True,
    n_candidates: int = 5,
    stop_id: int | None = None,
    stride: int | None = None,
) -> Iterator[StepRecord]:
    """Autoregressive sampling from a decoder-only model, one :class:`StepRecord` per new token.

    Any model that follows :class:`IncrementalLM` works (the LSTM baseline of ``trainers.lstm`` does): the
    same seed then draws from its distributions with exactly the same rules.

    prompt_ids: a non-empty list of ids (or a (T,) tensor). The same seed gives the same tokens. With
    ``use_cache`` the keys/values of earlier tokens are reused (same logits as recomputing them).

    Past ``max_len`` tokens the context window slides by ``stride`` tokens at a time (default
    ``max_len // 2``; :func:`context_start` says exactly which tokens the model reads): the cache is rebuilt
    from the new window's ``max_len − stride + 1`` tokens in one batched forward pass, and decoding carries
    on from it for ``stride`` tokens. Rebuilding once per token (``stride=1``) made every token past the window cost
    a whole-window forward pass (≈ 6× a cached step for the shipped Shakespeare model); with half-window
    strides the rebuild costs about one extra position per token, so the cost per token stays flat. The
    window's first token always sits at position 0, so the positional encoding (sinusoidal, learned or
    n/K) sees positions 0 … length − 1 exactly as in training, where every window also starts at 0; the
    price is a context of ``max_len − stride + 1`` to ``max_len`` tokens instead of always ``max_len``.
    An LSTM restarts from a zero state on the same window. ``StepRecord.context`` is the window's length.
    Stops after ``max_new_tokens`` or after emitting ``stop_id``.
    Raises ValueError on an empty prompt, bad sampling settings or a stride outside [1, max_len].
    """
    _check_settings(temperature, top_k, top_p)
    ids = torch.as_tensor(prompt_ids, dtype=torch.long).flatten().tolist()
    if not ids:
        raise ValueError("the prompt is empty: give at least one token to start from")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    max_len = model.config.max_len
    stride = default_stride(max_len) if stride is None else stride
    context_start(1, max_len, stride)  # validates the stride before any work
    cache = model.new_cache() if use_cache else None
    fed = 0  # how many tokens of the current window the cache already holds
    window_start = context_start(len(ids), max_len, stride)
    for step in range(max_new_tokens):
        start = context_start(len(ids), max_len, stride)
        if start != window_start:  # the window slid: re-encode its tokens into a fresh cache
            window_start = start
            cache, fed = (model.new_cache() if use_cache else None), 0
        window = ids[window_start:]
        if cache is not None:
            new = torch.tensor([window[fed:]], device=device)
            logits = model(new, cache=cache)[0, -1]
            fed = len(window)
        else:
            logits = model(torch.tensor([window], device=device))[0, -1]
        log_probs = filter_log_probs(logits, temperature, top_k, top_p)
        if temperature == 0:
            token = int(log_probs.argmax())
        else:
            token = int(torch.multinomial(log_probs.exp().cpu(), 1, generator=generator))
        model_probs = torch.softmax(logits.float(), dim=-1)
        probs = log_probs.exp()
        top = torch.topk(probs, min(n_candidates, probs.shape[-1]))
        candidates = [(int(i), float(p), float(model_probs[i])) for p, i in zip(top.values, top.indices, strict=True)]
        ids.append(token)
        yield StepRecord(step, token, float(probs[token]), float(model_probs[token]), candidates, len(window))
        if stop_id is not None and token == stop_id:
            return
