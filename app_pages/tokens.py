"""Tokens & embeddings: text → tokens → ids → embedding rows, and the positional encodings added to them.

Widgets only: the tokenizers are ``ui.tokenizing`` (Hugging Face ``tokenizers``), the numbers come from
``ui.lessons`` (``embedding_lookup``, ``positional_table``, ``position_similarity``).
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st
import torch

from ui.charts import dim_labels, show_matrix
from ui.charts.heatmaps import MAIN_COLUMN_WIDTH
from ui.i18n import _
from ui.inputs import matrix_view
from ui.lessons import embedding_lookup, position_similarity, positional_table
from ui.links import int_in, link_to_this_view, one_of, parse_bool, shared_state, text_value
from ui.text import unique_labels
from ui.tokenizing import KINDS, encode_pieces, load_tokenizers

K = "tok_"  # widget key prefix of this page
MAX_CHIPS = 200  # token chips shown
MAX_ROWS = 64  # rows of the embedding heatmap
DEFAULT_TEXT = "To be, or not to be: attention is all you need 🙂 注意力"
CHIP_COLORS = ["#dbeafe", "#dcfce7", "#fef9c3", "#fce7f3", "#e0e7ff", "#ffedd5", "#ccfbf1", "#f3e8ff"]


@st.cache_resource(show_spinner=_("Training the tokenizers on the corpus…"))
def _tokenizers():
    return load_tokenizers()  # the shipped ones (assets/tokenizers) when they match the corpus, else trained now


@st.cache_data(show_spinner=False, max_entries=64)
def _lookup(ids: tuple[int, ...], vocab_size: int, d_model: int, seed: int):
    return embedding_lookup(torch.tensor(ids, dtype=torch.long), vocab_size, d_model, seed).numpy()


@st.cache_data(show_spinner=False, max_entries=64)
def _positions(kind: str, length: int, d_model: int, seed: int, cosine: bool):
    table = positional_table(kind, length, d_model, seed)
    return table.numpy(), position_similarity(table, cosine=cosine).numpy()


def _chips(pieces) -> str:
    """HTML for token chips: the token's text on top, its id below; [UNK] chips outlined in red."""
    out = []
    for i, p in enumerate(pieces):
        color = CHIP_COLORS[i % len(CHIP_COLORS)]
        border = "2px solid #dc2626" if p.unknown else "1px solid #cbd5e1"
        title = html.escape(_("position {i} · from “{s}”").format(i=i, s=p.source), quote=True)
        # A byte piece or an [UNK] does not read as text: show which characters it came from.
        shows_source = p.unknown or p.text.startswith("<")
        extra = f'<br><span style="font-size:0.7em;color:#64748b">{html.escape(p.source)}</span>' if shows_source else ""
        out.append(
            f'<span title="{title}" style="display:inline-block;margin:3px;padding:3px 7px;border-radius:7px;'
            f'background:{color};border:{border};text-align:center;font-family:monospace;line-height:1.25">'
            f'<span style="font-size:1.05em">{html.escape(p.text)}</span><br>'
            f'<span style="font-size:0.75em;color:#475569">{p.id}</span>{extra}</span>'
        )
    return '<div style="line-height:2.4">' + "".join(out) + "</div>"


st.title(_("Tokens & embeddings"))
st.markdown(
    _(
        "A transformer never sees letters. The text is cut into **tokens**, each token is looked up in a "
        "vocabulary to get an **id**, and the id picks one row of the **embedding table** E: that row is the "
        "token's vector. Attention itself ignores order, so a **positional encoding** is added to say where "
        "each token stands."
    )
)
st.latex(r"\mathbf{x}_t = \sqrt{d_{\mathrm{model}}}\, E[\mathrm{id}_t] + \mathrm{PE}(t), \qquad "
         r"E \in \mathbb{R}^{V \times d_{\mathrm{model}}}")
st.caption(_("The models of this project multiply each embedding row by √d_model before adding the positional "
             "encoding, as the paper does (Vaswani et al. §3.4). The tables below show E and PE on their own."))

# --------------------------------------------------------------------------------------------------
st.header(_("① Text → tokens → ids"))
tokenizers = _tokenizers()
corpus = tokenizers.corpus
if corpus.builtin:
    st.info(_("The course data (../shared/data) is not here, so the tokenizers were trained on a small built-in "
              "sample. Set TC_SHARED_DATA to the shared data folder to train them on Tiny Shakespeare."),
            icon=":material/info:")
else:
    st.caption(_("The tokenizers were trained on the first {kb} KB of Tiny Shakespeare ({path}).").format(
        kb=len(corpus.text.encode("utf-8")) // 1000, path=corpus.source))

# What a link to this view carries (?text=…&tokenizer=word&d_model=8&seed=0&pe=learned&length=32&pe_d_model=32
# &cosine=1), see ui.links; the link is drawn here and filled in at the end of the page.
PAGE = "tokens"
SHARED = {"text": (K + "text", text_value), "tokenizer": (K + "kind", one_of(*KINDS)),
          "d_model": (K + "emb_d", int_in(2, 64)), "seed": (K + "seed", int_in(0, 10_000)),
          "pe": (K + "pe_kind", one_of("sinusoidal", "simple", "learned")), "length": (K + "pe_len", int_in(1, 64)),
          "pe_d_model": (K + "pe_d", int_in(2, 80)), "cosine": (K + "cosine", parse_bool)}
shared_state(PAGE, SHARED)
link_box = st.container()
text = st.text_area(_("Your text"), value=DEFAULT_TEXT, key=K + "text", height=80, max_chars=20_000,
                    help=_("Try Chinese characters, emoji, a misspelt word, or a long paragraph."))
kind_names = {"character": _("character"), "word": _("word"), "BPE": _("BPE (bytes)")}
kind = st.segmented_control(_("Tokenizer"), options=list(KINDS), format_func=kind_names.__getitem__,
                            default="BPE", required=True, key=K + "kind")

counts = {k: len(encode_pieces(tokenizers, k, text)) for k in KINDS}
st.markdown(
    " · ".join(
        _("{name}: **{n}** tokens (vocabulary {v:,})").format(name=kind_names[k], n=counts[k], v=tokenizers.vocab_size(k))
        for k in KINDS
    )
)
explain = {
    "character": _("One token per character. Small vocabulary, long sequences; a character the corpus never "
                   "contained (Chinese, emoji here) becomes [UNK] — its meaning is lost."),
    "word": _("One token per word or punctuation mark. Short sequences but a huge vocabulary, and any word "
              "not in it (a typo, a rare name, another language) becomes [UNK]."),
    "BPE": _("Byte-pair encoding starts from the 256 bytes and merges frequent pairs: common words are one "
             "token, rare ones split into pieces, and anything at all can be written — a Chinese character or "
             "emoji becomes its UTF-8 bytes (shown as <e6>). “␣” marks a leading space."),
}[kind]
st.caption(explain)

pieces = encode_pieces(tokenizers, kind, text)
if not pieces:
    st.warning(_("The text is empty: there are no tokens. Type something above."), icon=":material/edit_off:")
else:
    if len(pieces) > MAX_CHIPS:
        st.info(_("{n} tokens: the first {m} are shown.").format(n=len(pieces), m=MAX_CHIPS),
                icon=":material/content_cut:")
    n_unknown = sum(p.unknown for p in pieces)
    if n_unknown:
        st.warning(_("{n} token(s) are [UNK]: the {kind} vocabulary has no entry for them (outlined in red).").format(
            n=n_unknown, kind=kind_names[kind]), icon=":material/help:")
    st.markdown(_chips(pieces[:MAX_CHIPS]), unsafe_allow_html=True)
    with st.expander(_("As a table")):
        st.dataframe(
            pd.DataFrame(
                [{_("position"): i, _("token"): p.text, _("id"): p.id, _("from the text"): p.source,
                  _("unknown"): p.unknown} for i, p in enumerate(pieces[:MAX_CHIPS])]
            ),
            hide_index=True,
            key=K + "table",
        )

# --------------------------------------------------------------------------------------------------
st.header(_("② Embedding lookup"))
st.markdown(
    _("The embedding table E has one row per vocabulary entry. Looking a token up is just taking row id of E — "
      "a trained model learns these rows; here they are random N(0, 1), and the same id always gets the same row.")
)
c1, c2, c3 = st.columns([1, 1, 1])
emb_d = c1.slider(_("d_model"), 2, 64, 8, key=K + "emb_d", help=_("Width of each embedding row."))
seed = int(c2.number_input(_("Seed"), 0, 10_000, 0, key=K + "seed"))
table_view = matrix_view(K + "view", container=c3)
if pieces:
    shown = pieces[:MAX_ROWS]
    vocab_size = tokenizers.vocab_size(kind)
    st.markdown(
        _("E has shape (V, d_model) = ({v:,}, {d}); your {n} token ids pick {n} rows: a ({n}, {d}) matrix.").format(
            v=vocab_size, d=emb_d, n=len(shown))
    )
    if len(pieces) > MAX_ROWS:
        st.caption(_("Only the first {m} tokens are drawn.").format(m=MAX_ROWS))
    rows = [f"{label} #{p.id}" for label, p in zip(unique_labels([p.text for p in shown]), shown, strict=True)]
    show_matrix(_lookup(tuple(p.id for p in shown), vocab_size, emb_d, seed), rows, dim_labels(emb_d),
                title=_("E[ids]: the token vectors"), key=K + "emb", table=table_view,
                x_title=_("dimension"), y_title=_("token #id"))

# --------------------------------------------------------------------------------------------------
st.header(_("③ Positional encodings"))
pe_names = {"sinusoidal": _("sinusoidal"), "simple": _("simple n/K"), "learned": _("learned")}
pe_kind = st.segmented_control(_("Encoding"), options=list(pe_names), format_func=pe_names.__getitem__,
                               default="sinusoidal", required=True, key=K + "pe_kind")
formula = {
    "sinusoidal": r"\mathrm{PE}(p, 2i) = \sin\!\left(\frac{p}{10000^{2i/d_{\mathrm{model}}}}\right),\quad "
                  r"\mathrm{PE}(p, 2i+1) = \cos\!\left(\frac{p}{10000^{2i/d_{\mathrm{model}}}}\right)",
    "simple": r"\mathrm{PE}(n, \cdot) = \frac{n}{K}, \qquad n = 0, 1, \dots, K-1",
    "learned": r"\mathrm{PE}(p) = P[p], \qquad P \in \mathbb{R}^{\mathrm{max\_len} \times d_{\mathrm{model}}}"
               r"\ \text{learned with the model}",
}[pe_kind]
st.latex(formula)
st.caption({
    "sinusoidal": _("Vaswani et al. §3.5: each pair of dimensions is a sine/cosine of a different wavelength, from "
                    "2π to 10000·2π, so every position gets a unique pattern and nearby positions look alike."),
    "simple": _("The course's first attempt (EECS 498 A5): every dimension of position n holds n/K. A5 takes K = "
                "the input's length, as this page does (K = the length slider); the models trained here take K = "
                "max_len, their longest sequence, so a position's value does not depend on the input's length. "
                "Simple, but two neighbours differ by only 1/K, which vanishes for long sequences."),
    "learned": _("A table of position vectors trained like the embeddings (GPT). Shown here at its random "
                 "initialisation N(0, 0.02²): it carries no pattern until the model is trained."),
}[pe_kind])
c1, c2, c3 = st.columns(3)
length = c1.slider(_("length (positions)"), 1, 64, 32, key=K + "pe_len")
pe_d = c2.slider(_("d_model"), 2, 80, 32, key=K + "pe_d", help=_("Width of each position vector."))
cosine = c3.toggle(_("cosine similarity"), value=False, key=K + "cosine",
                   help=_("Divide each dot product by the vectors' lengths, so the diagonal is 1."))
table, sim = _positions(pe_kind, length, pe_d, seed, cosine)
positions = [f"{p:02d}" for p in range(length)]
show_matrix(table, positions, dim_labels(pe_d), title=_("Positional encoding (position × dimension)"),
            key=K + "pe", table=table_view, x_title=_("dimension"), y_title=_("position"), max_width=MAIN_COLUMN_WIDTH,
            annotate=False)
st.markdown(
    _("**Position-to-position similarity**: the dot product of the encodings of positions p and q. For the "
      "sinusoidal encoding it depends only on the distance p − q and is largest at distance 0. It tends to fall "
      "as the distance grows, but not steadily: it ripples, so some far-apart pairs look more alike than some "
      "closer ones.")
)
show_matrix(sim, positions, positions, title=_("PE · PEᵀ (cosine)") if cosine else _("PE · PEᵀ"),
            key=K + "sim", table=table_view, x_title=_("position"), y_title=_("position"), max_width=MAIN_COLUMN_WIDTH,
            annotate=False)
link_to_this_view(PAGE, SHARED, container=link_box)
