"""Home: what the dashboard is, and the learning path."""

from __future__ import annotations

import streamlit as st

from ui.i18n import _

st.title(_("Transformer Classroom"))
st.markdown(
    _(
        "Learn how transformers work by computing them. Every number and every heatmap here is computed "
        "live, on **your** input, by this project's own transformer written in plain PyTorch and "
        "tested equal to PyTorch's built-in modules. Nothing is drawn for illustration."
    )
)

st.subheader(_("The learning path"))
# In the sidebar's order (app.PAGES; a test keeps the two in step).
STEPS = [
    (_("Tokens & embeddings"), _("your text as tokens and ids; embeddings; positional encodings")),
    (_("Attention, step by step"), _("X, W_Q, W_K, W_V → Q, K, V → QKᵀ → ÷√d_k → mask → softmax → output")),
    (_("Multi-head attention"), _("split into heads, one heatmap per head, concatenate, W_O")),
    (_("Inside a block"), _("residual + layer norm (pre-norm vs post-norm), feed-forward, a whole encoder-decoder")),
    (_("Cost of attention"), _("time and memory against sequence length: why attention is O(T²)")),
    (_("Train"), _("train a small model and watch its loss fall live")),
    (_("Generate"), _("sample with temperature, top-k and top-p; see each step's candidates")),
    (_("Translate"), _("English to German with greedy or beam search, and the cross-attention alignment")),
    (_("Attention maps"), _("what a trained model's heads attend to, per layer and head")),
    (_("Model view"), _("every layer and head of a trained model (or GPT-2) at once, any head enlarged")),
]
for number, (title, what) in enumerate(STEPS, start=1):
    st.markdown(f"{number}. **{title}**: {what}")

st.latex(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V")
st.caption(
    _(
        "Built for the homework students bring: Understanding Deep Learning ch. 12, EECS 498 A5 (AddSub), "
        "the WikiText-2 language model, and more. Everything runs offline on this computer: AddSub and Tiny "
        "Shakespeare train from data that ships with the app, and the shipped models open in Generate, "
        "Translate and Attention maps; WikiText-2 and Multi30k are read from the course data folder or "
        "downloaded when online."
    )
)
