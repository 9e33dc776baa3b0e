"""Charts and downloads shared by the pages: altair heatmaps and line charts on screen, seaborn PNGs and CSVs
to download.

- :mod:`ui.charts.colors`: the one colour-scale decision (fixed [0, 1] for attention weights, diverging around
  0 for signed data, sequential otherwise), used by the screen and the PNGs alike.
- :mod:`ui.charts.heatmaps`: Vega-Lite heatmap specs built with altair (one matrix, one facet per head,
  several side by side), ``heatmap_frame`` and ``spec_values`` (what a spec draws, for tests).
- :mod:`ui.charts.lines`: line charts (cost, sweeps), the Train page's loss curves, the Generate page's candidates.
- :mod:`ui.charts.files`: the downloads' files: seaborn PNGs (Agg backend, behind ``PLOT_LOCK``) and CSVs.
- :mod:`ui.charts.widgets`: ``show_matrix``, ``show_matrices``, ``show_heads``, ``show_head_maps`` and
  ``download_panel`` put charts on the page; every PNG + CSV pair of buttons is ``download_buttons``.

Every figure starts from a 2-D array (or a stack of them, one per head) with a label per row and per
column; token labels should come from :func:`ui.text.unique_labels` ("03 the") so a repeated word keeps
its own row. −∞ (a masked attention score) is drawn as a grey cell reading "−∞"; NaN the same, reading
"NaN". Tooltips show the row, the column and the exact value (6 significant digits). Specs carry their
data inline, so a test can read what is drawn.
"""

from ui.charts.colors import MASKED_COLOR, color_scale
from ui.charts.files import PLOT_LOCK, heads_csv, heads_png, heatmap_png, matrix_csv
from ui.charts.heatmaps import (
    concat_heatmap_spec,
    dim_labels,
    facet_heatmap_spec,
    hconcat_specs,
    heatmap_frame,
    heatmap_spec,
    spec_values,
    with_named_data,
)
from ui.charts.lines import X_AXES, candidates_spec, layered_spec, line_chart_spec, loss_curves_spec
from ui.charts.widgets import download_buttons, download_panel, show_head_maps, show_heads, show_matrices, show_matrix

__all__ = [
    "MASKED_COLOR",
    "PLOT_LOCK",
    "X_AXES",
    "candidates_spec",
    "color_scale",
    "concat_heatmap_spec",
    "dim_labels",
    "download_buttons",
    "download_panel",
    "facet_heatmap_spec",
    "hconcat_specs",
    "heads_csv",
    "heads_png",
    "heatmap_frame",
    "heatmap_png",
    "heatmap_spec",
    "line_chart_spec",
    "layered_spec",
    "loss_curves_spec",
    "matrix_csv",
    "show_head_maps",
    "show_heads",
    "show_matrices",
    "show_matrix",
    "spec_values",
    "with_named_data",
]
