"""The Explore pages' "Weights" choice: random (the seed's), or one head of a trained language model.

A trained model is picked with the app's one Model picker (shipped checkpoints, this session's runs, GPT-2
folders); its layer and head are chosen here. The numbers come from :mod:`ui.lessons.model_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from trainers.tasks import LM_TASKS
from ui.checkpoints import checkpoint_choices, checkpoint_picker, shared_model
from ui.i18n import _
from ui.lessons.model_weights import model_block, model_head_attention, model_multihead, model_supports_steps
from ui.links import checkpoint_name, int_in, open_linked_checkpoint, shared_state
from ui.page_state import session_checkpoints

MAX_SHOWN_DIMS = 64  # columns of X and rows of W_Q, W_K, W_V drawn (GPT-2's d_model is 768)


@dataclass(frozen=True)
class ModelHead:
    """A picked model and the head to show: 1-based layer and head, as the widgets show them."""

    path: str
    stamp: float
    layer: int
    head: int

    def link_params(self, with_head: bool = True) -> dict[str, str]:
        """What a link to this view adds for the model: ``model`` (its folder's name), ``layer`` and ``head``."""
        params = {"model": checkpoint_name(self.path), "layer": str(self.layer)}
        return params | {"head": str(self.head)} if with_head else params


def weights_source(prefix: str, choose_head: bool = True, page: str | None = None) -> ModelHead | None:
    """The "Weights" control; for a trained model also the Model picker, layer and head (``choose_head``: the
    head too). None = random weights.

    ``page``: the page's URL path, to open a link's ``?model=…&layer=…&head=…`` (:mod:`ui.links`; the page
    itself shares ``weights``). A layer or head the loaded model does not have gets a warning and the default.
    """
    choice = st.segmented_control(
        _("Weights"), ["random", "model"], default="random", required=True, key=prefix + "weights",
        format_func={"random": _("random (seeded)"), "model": _("a trained model")}.__getitem__,
        help=_("Random weights show the mechanics; a trained model's heads show what attention learns."),
    )
    if choice != "model":
        return None
    if page is not None:
        open_linked_checkpoint(page, "open_in_" + prefix.rstrip("_"),
                               [c.path for c in checkpoint_choices(session_checkpoints(), tasks=LM_TASKS)])
    picked = checkpoint_picker(
        prefix + "model", "open_in_" + prefix.rstrip("_"), tasks=LM_TASKS, pretrained=True,
        prefer=lambda c: c.task == "shakespeare",
        empty_message=_("No language model is available yet: train one on the Train page."),
    )
    if not model_supports_steps(picked.model):
        st.info(_("This model is an LSTM: it has no attention heads to show. Pick a transformer."),
                icon=":material/block:")
        return None
    cfg = picked.meta.model_config
    if page is not None:  # the keys (and valid ranges) depend on the model, so they are applied only now
        linked = {"layer": (f"{prefix}layer_{cfg.n_layers}", int_in(1, cfg.n_layers))}
        if choose_head:
            linked["head"] = (f"{prefix}head_{cfg.n_heads}", int_in(1, cfg.n_heads))
        shared_state(page, linked)
    c1, c2 = st.columns(2)
    layer = c1.slider(_("Layer"), 1, cfg.n_layers, 1, key=f"{prefix}layer_{cfg.n_layers}")
    head = c2.slider(_("Head"), 1, cfg.n_heads, 1, key=f"{prefix}head_{cfg.n_heads}") if choose_head else 1
    return ModelHead(picked.path, picked.stamp, int(layer), int(head))


@st.cache_data(show_spinner=False, max_entries=64)
def model_attend(path: str, stamp: float, text: str, layer: int, head: int, scale: bool):
    """:func:`ui.lessons.model_weights.model_head_attention` of a cached model (0-based layer, head); cached."""
    model, meta = shared_model(path, stamp)
    return model_head_attention(model, meta, text, layer, head, scale=scale)


@st.cache_data(show_spinner=False, max_entries=16)
def model_heads(path: str, stamp: float, text: str, layer: int):
    """:func:`ui.lessons.model_weights.model_multihead` of a cached model (0-based layer), cached without the
    module: ``(tokens, trace, W_O (d_model, d_model) in the formula's orientation, list-of-heads difference, cut)``."""
    from ui.lessons import list_of_heads_difference

    model, meta = shared_model(path, stamp)
    res, cut = model_multihead(model, meta, text, layer)
    return res.tokens, res.trace, res.module.w_o.weight.T.detach().clone(), list_of_heads_difference(res), cut


@st.cache_data(show_spinner=False, max_entries=16)
def model_block_stages(path: str, stamp: float, text: str, layer: int):
    """:func:`ui.lessons.model_weights.model_block` of a cached model (0-based layer), cached, with the model's
    block settings: ``(tokens, stages, cut, config)`` (config: its ``TransformerConfig``)."""
    model, meta = shared_model(path, stamp)
    tokens, stages, cut = model_block(model, meta, text, layer)
    return tokens, stages, cut, meta.model_config
