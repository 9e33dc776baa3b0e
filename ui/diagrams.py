"""Graphviz (DOT) diagrams of a block's dataflow, drawn from a live trace, for ``st.graphviz_chart``.

``block_dot`` turns the stages of :func:`transformer.trace.trace_encoder_block` /
``trace_decoder_block`` into boxes that show each stage's name and live tensor shape, with the main path
as solid arrows and the residual (skip) connections as dashed ones. Nothing here computes: it only
draws what the trace recorded. The browser renders DOT itself; no Graphviz install is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ui.i18n import N_

__all__ = ["KIND_COLORS", "STAGE_NAMES", "block_dot"]

KIND_COLORS = {
    "input": "#e5e7eb",
    "norm": "#fef08a",
    "attention": "#fdba74",
    "ffn": "#93c5fd",
    "residual": "#bbf7d0",
    "output": "#e5e7eb",
}


# Every stage name the block traces of transformer.trace record (pre- and post-norm, encoder and decoder),
# marked for the catalogs: the pages translate them with _() (the core stays free of the interface). A test
# traces both blocks and checks that this list has every name.
STAGE_NAMES = (
    N_("input x"),
    N_("encoder output (memory)"),
    N_("self-attention"),
    N_("masked self-attention"),
    N_("cross-attention"),
    N_("feed-forward"),
    N_("feed-forward hidden, after the activation"),
    N_("LayerNorm before self-attention"),
    N_("LayerNorm before masked self-attention"),
    N_("LayerNorm before cross-attention"),
    N_("LayerNorm before feed-forward"),
    N_("LayerNorm after self-attention"),
    N_("LayerNorm after masked self-attention"),
    N_("LayerNorm after cross-attention"),
    N_("LayerNorm after feed-forward"),
    N_("x + self-attention (residual)"),
    N_("x + masked self-attention (residual)"),
    N_("x + cross-attention (residual)"),
    N_("x + feed-forward (residual)"),
    N_("block output"),
)


def _quote(text: str) -> str:
    """A DOT string literal: backslashes and quotes escaped, line breaks as DOT's centred "\\n"."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def block_dot(
    stages: Sequence,
    title: str = "",
    translate: Callable[[str], str] = lambda s: s,
    skip_label: str = "residual",
    rankdir: str = "TB",
) -> str:
    """DOT source for one block: a box per stage ("name\\nshape"), coloured by kind; an edge per input.

    ``stages``: objects with ``name``, ``shape``, ``kind`` and ``inputs`` (indices of earlier stages), as
    :class:`transformer.trace.BlockStage`. The first input of a residual stage is its skip path and is
    drawn dashed with ``skip_label``. ``translate`` is applied to stage names (pass the page's ``_``).
    """
    lines = [
        "digraph block {",
        f"  rankdir={rankdir};",
        '  graph [fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.22];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, margin="0.12,0.05"];',
        '  edge [color="#475569", arrowsize=0.7];',
    ]
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    for i, stage in enumerate(stages):
        color = KIND_COLORS.get(stage.kind, "#ffffff")
        label = f"{translate(stage.name)}\n{_shape(stage.shape)}"
        lines.append(f"  s{i} [label={_quote(label)}, fillcolor={_quote(color)}];")
    for i, stage in enumerate(stages):
        for j, src in enumerate(stage.inputs):
            if src is None:
                continue
            if stage.kind == "residual" and j == 0:
                lines.append(f"  s{src} -> s{i} [style=dashed, color=\"#16a34a\", label={_quote(skip_label)}, "
                             'fontsize=9, fontcolor="#16a34a", constraint=false];')
            else:
                lines.append(f"  s{src} -> s{i};")
    lines.append("}")
    return "\n".join(lines)
