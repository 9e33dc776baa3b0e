"""Translation for the Translate and Attention-maps pages: check and encode the source sentence, translate it by
greedy or beam search (:mod:`trainers.translate`, over :mod:`transformer.decoding`), and the n-best table.

No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from trainers.checkpoint import CheckpointMeta
from ui.checkpoints import context_length, inference_threads
from ui.i18n import _
from ui.labels import language_name


def language_names(meta: CheckpointMeta) -> tuple[str, str]:
    """(source, target) language names of a translation checkpoint, translated for the page."""
    from trainers.tasks.translation import LANGUAGES

    _corpus, src, tgt = LANGUAGES[meta.task]
    return language_name(src), language_name(tgt)


@dataclass
class PreparedSource:
    """A source sentence as the encoder reads it (pieces + EOS), or the reason it cannot be translated.

    ``error``: a sentence for ``st.error`` (empty text, too long); ``notes``: ("warning", text) for
    characters the tokenizer lacks (they become ``<unk>``; the sentence is still translated).
    """

    text: str
    ids: list[int] = field(default_factory=list)
    error: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)


def prepare_source(meta: CheckpointMeta, text: str | None) -> PreparedSource:
    """Check and encode a sentence for a translation model.

    - Empty or blank: an error asking for a sentence.
    - Characters the shared BPE never saw in training: a warning naming them (they are read as ``<unk>``).
    - More tokens than the model's context (``max_len``): an error giving both numbers.
    """
    from trainers.tasks import translation as tr

    cleaned = tr.clean_text(text or "")
    source, _target = language_names(meta)
    if not cleaned:
        return PreparedSource(cleaned, error=_("The sentence is empty: type a sentence in {language} to translate.")
                              .format(language=source))
    notes = []
    missing = tr.unknown_characters(meta.tokenizer, cleaned)
    if missing:
        shown = " ".join(f"“{c}”" for c in missing[:20]) + (" …" if len(missing) > 20 else "")
        notes.append(("warning", _("The tokenizer has never seen these characters, so the model reads each as "
                                   "<unk> (unknown): {chars}.").format(chars=shown)))
    ids = meta.encode(cleaned)
    context = context_length(meta)
    if len(ids) > context:
        return PreparedSource(cleaned, ids, error=_(
            "The sentence has {n} tokens (with the end-of-sentence token) but the model reads at most {context}: "
            "shorten it.").format(n=len(ids), context=context), notes=notes)
    return PreparedSource(cleaned, ids, notes=notes)


@dataclass
class TranslationResult:
    """A translation and, for beam search, the n-best list it was chosen from (best first)."""

    source_ids: list[int]
    decoding: str  # "greedy" or "beam"
    candidates: list  # trainers.translate.Candidate, best first (one for greedy)
    beam_width: int | None = None
    length_penalty: float | None = None

    @property
    def best(self):
        return self.candidates[0]


@torch.no_grad()
def translate(model: nn.Module, meta: CheckpointMeta, source_ids: list[int], decoding: str = "greedy",
              beam_width: int = 4, length_penalty: float = 0.6) -> TranslationResult:
    """Translate one prepared source (ids incl. EOS) by greedy or beam search (:mod:`trainers.translate`).

    Raises ValueError for an unknown decoding or bad beam settings.
    """
    from trainers.translate import beam_candidates, greedy_candidate

    with inference_threads():
        if decoding == "greedy":
            return TranslationResult(source_ids, "greedy", [greedy_candidate(model, meta.tokenizer, source_ids)])
        if decoding != "beam":
            raise ValueError(_("decoding must be greedy or beam, got {d!r}").format(d=decoding))
        candidates = beam_candidates(model, meta.tokenizer, source_ids, int(beam_width), float(length_penalty))
    return TranslationResult(source_ids, "beam", candidates, int(beam_width), float(length_penalty))


def nbest_table(result: TranslationResult) -> pd.DataFrame:
    """The n-best list as a table: rank, translation, score (log-probability ÷ length penalty), log-probability,
    tokens, the length the penalty counts (tokens + <eos> when finished), finished."""
    return pd.DataFrame([
        {
            _("rank"): i + 1,
            _("translation"): c.text,
            _("score"): round(c.score, 4),
            _("log-probability (nats)"): round(c.log_prob, 4),
            _("tokens"): len(c.ids),
            _("length in the penalty (with <eos>)"): c.length,
            _("finished (ended with EOS)"): c.finished,
        }
        for i, c in enumerate(result.candidates)
    ])

