"""The model view (as BertViz's): every layer × head of one attention kind as a grid of small heatmaps, one head
enlarged, and a head view of what one chosen token attends to.

:func:`attention_for_input` runs a picked checkpoint on the user's input and returns its
:class:`ui.attention_maps.AttentionMaps` (a language model's masked self-attention; AddSub's and a
translation model's three kinds); the spec builders draw them with altair. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import altair as alt
import numpy as np
from torch import nn

from trainers.checkpoint import CheckpointMeta
from ui.attention_maps import AttentionMaps, addsub_answer, lm_attention, translation_attention
from ui.charts.colors import SEQUENTIAL_SCHEME
from ui.i18n import _

GRID_WIDTH = 740  # px for the panels; with the legend the grid fits the main column (~820 px) at 1280 × 720
MIN_PANEL = 48  # px: a panel smaller than this is unreadable, so the grid wraps to more rows instead
MAX_PANEL = 200
# The browser draws every cell of the grid: L × H panels × T² cells stay under this (GPT-2 small, 144 panels: 20
# tokens a side; a 4 × 4 course model: 61), and never more than 64 tokens a side (as every heatmap here)
GRID_MAX_CELLS, GRID_MAX_TOKENS = 60_000, 64


@dataclass
class ModelViewInput:
    """The maps of one input, with what to say about it (notes) or why there are none (error)."""

    maps: AttentionMaps | None
    notes: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    summary: str = ""  # e.g. AddSub's answer or the translation, shown as text


def attention_for_input(model: nn.Module, meta: CheckpointMeta, text: str) -> ModelViewInput:
    """Run a checkpoint on ``text`` and record its attention: AddSub (the expression and the model's answer),
    translation (the sentence and its greedy translation) or a language model (the text). Never raises for
    bad input: the reason is in ``error``."""
    from ui.sampling import prepare_prompt
    from ui.translation import prepare_source, translate

    try:
        if meta.task == "addsub":
            result = addsub_answer(model, meta, text)
            return ModelViewInput(result.maps, summary=f"{result.expression} → {result.answer}")
        if meta.is_translation:
            source = prepare_source(meta, text)
            if source.error:
                return ModelViewInput(None, source.notes, error=source.error)
            best = translate(model, meta, source.ids, "greedy").best
            maps = translation_attention(model, meta, source.ids, best.ids, text=source.text)
            return ModelViewInput(maps, source.notes + maps.notes, summary=best.text)
        prompt = prepare_prompt(meta, text)
        maps = lm_attention(model, meta, prompt.ids, text=text)
        return ModelViewInput(maps, prompt.notes + maps.notes)
    except ValueError as exc:
        return ModelViewInput(None, error=str(exc))


def grid_tokens(n_panels: int) -> int:
    """How many tokens a side the grid draws for ``n_panels`` = L × H panels (the browser draws every cell)."""
    return int(min(GRID_MAX_TOKENS, (GRID_MAX_CELLS / max(n_panels, 1)) ** 0.5))


def grid_layout(n_layers: int, n_heads: int, width: int = GRID_WIDTH) -> tuple[int, int]:
    """(panels per row, panel side in px): one row per layer when the heads fit ``width``, else each layer's heads
    over several rows of equal length (the largest divisor of n_heads that fits)."""
    per_row = max(d for d in range(1, n_heads + 1) if n_heads % d == 0 and (d == 1 or width // d >= MIN_PANEL + 8))
    side = int(min(MAX_PANEL, width // per_row - 8))
    return per_row, side


def grid_spec(weights: np.ndarray, title: str = "", width: int = GRID_WIDTH) -> dict:
    """One Vega-Lite chart of every layer × head: weights (L, H, T_q, T_k) → L·H small heatmaps on the scale [0, 1].

    Panels are titled "L1 H1" …, ordered layer by layer, head by head, and wrap into rows that fit ``width``
    px. No axes (the enlarged head has them); the tooltip gives layer, head, query, key and the weight.
    """
    L, H, Tq, Tk = weights.shape
    per_row, side = grid_layout(L, H, width)
    layer, head, q, k = np.meshgrid(np.arange(L), np.arange(H), np.arange(Tq), np.arange(Tk), indexing="ij")
    panel_names = [f"L{layer_i + 1} H{head_i + 1}" for layer_i in range(L) for head_i in range(H)]
    records = [{"p": panel_names[int(a) * H + int(b)], "q": int(c), "k": int(d), "w": round(float(v), 4)}
               for a, b, c, d, v in zip(layer.ravel(), head.ravel(), q.ravel(), k.ravel(), weights.ravel(), strict=True)]
    chart = alt.Chart().mark_rect().encode(
        x=alt.X("k:O", axis=None), y=alt.Y("q:O", axis=None),
        color=alt.Color("w:Q", scale=alt.Scale(domain=[0, 1], scheme=SEQUENTIAL_SCHEME), title=None,
                        legend=alt.Legend(orient="right", gradientLength=120)),
        tooltip=[alt.Tooltip("p:N", title=_("head")), alt.Tooltip("q:O", title=_("query position")),
                 alt.Tooltip("k:O", title=_("key position")), alt.Tooltip("w:Q", title=_("weight"), format=".4f")],
    ).properties(width=side, height=side)
    spec = chart.facet(
        facet=alt.Facet("p:N", sort=panel_names, title=None, header=alt.Header(labelFontSize=11, labelPadding=2)),
        columns=per_row, spacing=6, data=alt.Data(values=[]),
        **({"title": alt.TitleParams(title, anchor="start")} if title else {}),
    ).to_dict(validate=False)
    spec["data"] = {"values": records}  # after altair, which copies rows slowly
    return spec


def panel_count(spec: dict) -> int:
    """How many panels (layer × head) a :func:`grid_spec` draws. For tests."""
    return len({row["p"] for row in spec["data"]["values"]})


def head_view_rows(weights_layer: np.ndarray, query: int, head: int) -> tuple[np.ndarray, list[str]]:
    """What token ``query`` attends to in one layer: its row of every head's map, (H, T_k), and the row labels
    ("head 1" …, the enlarged ``head`` marked ◀). weights_layer (H, T_q, T_k)."""
    H = weights_layer.shape[0]
    labels = [_("head {h}").format(h=h + 1) + (" ◀" if h == head else "") for h in range(H)]
    return np.asarray(weights_layer[:, query, :], dtype=float), labels
