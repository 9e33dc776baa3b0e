"""Attention maps of a trained model: the three extractors (a language model's masked self-attention, an
AddSub model's answer, a translation) and every weight as a CSV or NPZ file with the model's config and the input.

Attention weights come from ``model(..., return_attention=True)``; AddSub answers are
:func:`trainers.trainer.addsub_answers`. No Streamlit here.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainers.checkpoint import CheckpointMeta
from ui.checkpoints import context_length, inference_threads
from ui.i18n import _
from ui.text import unique_labels

MAX_HEATMAP_TOKENS = 64  # heatmaps stay readable up to about 64 tokens a side
ATTENTION_KINDS: tuple[str, ...] = ("encoder_self", "decoder_self", "cross")


# The example inputs of the pages that draw a trained model's attention (Attention maps, Model view).
DEFAULT_EXPRESSION = "-30 - -34"
DEFAULT_SENTENCE = "A little girl in a pink dress is climbing up the stairs."
DEFAULT_TEXTS = {
    "shakespeare": "ROMEO:\nBut soft, what light through yonder window breaks?",
    "anna": "Happy families are all alike; every unhappy family is unhappy in its own way.",
    "wikitext2": "The game was released in Japan in 2011 , and it received positive reviews .",
}


def no_attention_sentence() -> str:
    """The plain sentence the Generate and Attention-maps pages show for an LSTM checkpoint."""
    return _("This model is an LSTM: it has no attention, so there is no attention map to show. It reads the text "
             "one token at a time and carries everything it remembers in its hidden state; only a transformer "
             "has per-head attention weights to look at.")


@dataclass
class AttentionMaps:
    """Every attention weight of one forward pass, by kind: (L, H, T_q, T_k) arrays with their tokens."""

    weights: dict[str, np.ndarray]  # kind → (L, H, T_q, T_k), kinds among ATTENTION_KINDS
    query_tokens: dict[str, list[str]]
    key_tokens: dict[str, list[str]]
    input_text: str
    config: dict  # the model's TransformerConfig as a dict
    checkpoint: str = ""
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return [k for k in ATTENTION_KINDS if k in self.weights]

    def labels(self, kind: str) -> tuple[list[str], list[str]]:
        """Unique axis labels ("03 the") of a kind's queries (rows) and keys (columns)."""
        return unique_labels(self.query_tokens[kind]), unique_labels(self.key_tokens[kind])


def _stack(layers: list[torch.Tensor]) -> np.ndarray:
    return torch.stack([w[0] for w in layers]).float().numpy()  # (L, H, T_q, T_k) of the single batch row


@torch.no_grad()
def lm_attention(model: nn.Module, meta: CheckpointMeta, ids: list[int], text: str = "",
                 max_tokens: int = MAX_HEATMAP_TOKENS) -> AttentionMaps:
    """Masked self-attention of a language model over the last ``min(max_len, max_tokens)`` tokens of ``ids``.

    The model reads exactly the tokens shown, so every row sums to 1. Raises ValueError on empty ``ids``.
    """
    if not ids:
        raise ValueError(_("There are no tokens to look at."))
    notes = []
    window = min(context_length(meta), max_tokens)
    if len(ids) > window:
        notes.append(("info", _("Showing attention over the last {window} of {n} tokens (the model reads them "
                                "on their own, so each row still sums to 1).").format(window=window, n=len(ids))))
        ids = ids[-window:]
    with inference_threads():
        _logits, record = model(torch.tensor([ids]), return_attention=True)
    tokens = meta.token_strings(ids)
    return AttentionMaps(
        weights={"decoder_self": _stack(record.decoder_self)},
        query_tokens={"decoder_self": tokens},
        key_tokens={"decoder_self": tokens},
        input_text=text or meta.decode(ids),
        config=meta.model_config.to_dict(),
        checkpoint=str(meta.path),
        notes=notes,
    )


@dataclass
class AddSubAnswer:
    """An AddSub model's answer to one expression, the right answer, and all its attention weights."""

    expression: str  # the course string, "BOS NEGATIVE 30 subtract NEGATIVE 34 EOS"
    answer: str  # the model's output as a course string, "BOS POSITIVE 04 EOS"
    answer_value: int | None  # that output as a number (None when it is not a well-formed number)
    expected_value: int
    maps: AttentionMaps

    @property
    def correct(self) -> bool:
        return self.answer_value == self.expected_value


def _expected(expression: str) -> int:
    """The right answer of a course string ``BOS S dd op S dd EOS``."""
    from trainers.tasks import addsub

    w = expression.split()
    a = int(w[2]) * (-1 if w[1] == "NEGATIVE" else 1)
    b = int(w[5]) * (-1 if w[4] == "NEGATIVE" else 1)
    return addsub.format_answer(addsub.solve(a, w[3], b))


@torch.no_grad()
def addsub_answer(model: nn.Module, meta: CheckpointMeta, text: str) -> AddSubAnswer:
    """Answer plain arithmetic (``"-30 - -34"``) with an AddSub model, and record its attention.

    The decoder's attention is taken on the model's own answer (BOS sign d d), i.e. what it looked at while
    producing each next token. Raises ValueError with the parser's sentence for malformed or out-of-range input.
    """
    from trainers.tasks import addsub
    from trainers.tasks.addsub_task import addsub_answers

    cleaned = (text or "").strip()
    expression = cleaned if cleaned.startswith("BOS") else addsub.parse_arithmetic(cleaned)
    src_ids = addsub.encode_expression(expression)
    if len(src_ids) != addsub.SRC_LEN:
        raise ValueError(_("{text!r} is not an AddSub expression of {n} tokens.").format(text=text, n=addsub.SRC_LEN))
    src = torch.tensor([src_ids])
    with inference_threads():
        out = addsub_answers(model, src)  # (1, 5): BOS sign d d EOS
        decoder_in = out[:, :-1]
        _logits, record = model(src, decoder_in, return_attention=True)
    src_tokens = meta.token_strings(src_ids)
    dec_tokens = meta.token_strings(decoder_in[0].tolist())
    answer = addsub.decode_ids(out[0].tolist())
    maps = AttentionMaps(
        weights={"encoder_self": _stack(record.encoder_self), "decoder_self": _stack(record.decoder_self),
                 "cross": _stack(record.cross)},
        query_tokens={"encoder_self": src_tokens, "decoder_self": dec_tokens, "cross": dec_tokens},
        key_tokens={"encoder_self": src_tokens, "decoder_self": dec_tokens, "cross": src_tokens},
        input_text=cleaned,
        config=meta.model_config.to_dict(),
        checkpoint=str(meta.path),
    )
    return AddSubAnswer(expression, answer, addsub.format_answer(answer), _expected(expression), maps)



@torch.no_grad()
def translation_attention(model: nn.Module, meta: CheckpointMeta, source_ids: list[int], output_ids: list[int],
                          text: str = "", max_tokens: int = MAX_HEATMAP_TOKENS) -> AttentionMaps:
    """All attention weights of one teacher-forced pass over a source and its translation.

    The decoder reads ``<bos>`` + the translation; its row *i* is the step that wrote output token *i*
    (the last row wrote ``<eos>``), so cross-attention rows are labelled with the token being written and
    its columns with the source pieces: the alignment. Decoder self-attention is labelled with what the
    decoder reads. Maps longer than ``max_tokens`` a side show their first ``max_tokens`` tokens (with a note).
    """
    from trainers.tasks import translation as tr

    decoder_in = [tr.BOS_ID] + list(output_ids)
    written = list(output_ids) + [tr.EOS_ID]
    with inference_threads():
        _logits, record = model(torch.tensor([list(source_ids)]), torch.tensor([decoder_in]), return_attention=True)
    src_tokens, in_tokens, out_tokens = (meta.token_strings(x) for x in (source_ids, decoder_in, written))
    weights = {"encoder_self": _stack(record.encoder_self), "decoder_self": _stack(record.decoder_self),
               "cross": _stack(record.cross)}
    notes = []
    if max(len(source_ids), len(decoder_in)) > max_tokens:
        notes.append(("info", _("The heatmaps show the first {n} tokens of each side.").format(n=max_tokens)))
        weights = {k: w[:, :, :max_tokens, :max_tokens] for k, w in weights.items()}
        src_tokens, in_tokens, out_tokens = src_tokens[:max_tokens], in_tokens[:max_tokens], out_tokens[:max_tokens]
    return AttentionMaps(
        weights=weights,
        query_tokens={"encoder_self": src_tokens, "decoder_self": in_tokens, "cross": out_tokens},
        key_tokens={"encoder_self": src_tokens, "decoder_self": in_tokens, "cross": src_tokens},
        input_text=text or meta.decode(source_ids),
        config=meta.model_config.to_dict(),
        checkpoint=str(meta.path),
        notes=notes,
    )



# --------------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------------
def attention_csv(maps: AttentionMaps) -> bytes:
    """Every weight as one CSV row (kind, layer, head, query/key position and token, weight).

    The first lines, starting with ``#``, hold the input and the model config as JSON
    (``pandas.read_csv(path, comment="#")`` skips them).
    """
    frames = []
    for kind in maps.kinds:
        w = maps.weights[kind]
        L, H, Tq, Tk = w.shape
        layer, head, q, k = np.meshgrid(np.arange(L), np.arange(H), np.arange(Tq), np.arange(Tk), indexing="ij")
        frames.append(pd.DataFrame({
            "kind": kind,
            "layer": layer.ravel() + 1,
            "head": head.ravel() + 1,
            "query_position": q.ravel(),
            "query_token": np.asarray(maps.query_tokens[kind], dtype=object)[q.ravel()],
            "key_position": k.ravel(),
            "key_token": np.asarray(maps.key_tokens[kind], dtype=object)[k.ravel()],
            "weight": w.ravel(),
        }))
    header = (
        f"# input: {json.dumps(maps.input_text, ensure_ascii=False)}\n"
        f"# checkpoint: {json.dumps(maps.checkpoint, ensure_ascii=False)}\n"
        f"# model_config: {json.dumps(maps.config)}\n"
    )
    body = pd.concat(frames, ignore_index=True).to_csv(index=False, float_format="%.6g")
    return (header + body).encode("utf-8")


def attention_npz(maps: AttentionMaps) -> bytes:
    """The weights as a compressed NumPy archive: ``<kind>`` (L, H, T_q, T_k), ``<kind>_query_tokens``,
    ``<kind>_key_tokens``, ``input`` and ``model_config`` (JSON text). Loads with ``allow_pickle=False``."""
    arrays: dict[str, np.ndarray] = {
        "input": np.array(maps.input_text),
        "model_config": np.array(json.dumps(maps.config)),
        "checkpoint": np.array(maps.checkpoint),
    }
    for kind in maps.kinds:
        arrays[kind] = maps.weights[kind].astype(np.float32)
        arrays[f"{kind}_query_tokens"] = np.array(maps.query_tokens[kind], dtype=str)
        arrays[f"{kind}_key_tokens"] = np.array(maps.key_tokens[kind], dtype=str)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()



def causal_cells(n_queries: int, n_keys: int):
    """(n_queries, n_keys) bool: the cells the causal mask forbids when the queries are the last ``n_queries`` of
    ``n_keys`` tokens (query i sits at position n_keys − n_queries + i and may see keys up to it)."""
    offset = n_keys - n_queries
    return np.arange(n_keys)[None, :] > (np.arange(n_queries)[:, None] + offset)
