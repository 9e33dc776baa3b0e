"""Sampling from a trained language model, as the Generate page shows it: the prompt the model reads, the
sampling knobs, each drawn token with the candidates it was drawn from, and the rows of its charts and tables.

The sampling itself is :func:`transformer.sampling.generate`; this module adds what a page needs around it:
what to do with an empty, unknown-word or too-long prompt (with a note to show), and the tokens' text.
No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from torch import nn

from trainers.checkpoint import CheckpointMeta
from transformer.sampling import generate
from ui.checkpoints import context_length, inference_threads
from ui.i18n import _

# Where an empty prompt starts, per task: something the corpus itself would say.
DEFAULT_PROMPTS: dict[str, str] = {"shakespeare": "ROMEO:", "anna": "Anna", "wikitext2": "The", "gpt2": "The"}


@dataclass
class PreparedPrompt:
    """A prompt as the model will read it: ids, and notes ("info"/"warning", text) for the page to show."""

    ids: list[int]
    notes: list[tuple[str, str]] = field(default_factory=list)



def prepare_prompt(meta: CheckpointMeta, text: str | None) -> PreparedPrompt:
    """Turn what the user typed into ids the language model can read, and say what was changed.

    - Empty or blank: start from the task's default prompt (``DEFAULT_PROMPTS``), with a note.
    - Words a word-level vocabulary lacks become ``<unk>`` (listed in a note); characters a character
      vocabulary lacks are left out (it has no ``<unk>``), also listed.
    - Longer than the model's context: only the last ``max_len`` tokens are kept, with a note.
    """
    notes: list[tuple[str, str]] = []
    text = text or ""
    if not text.strip():
        default = DEFAULT_PROMPTS.get(meta.task, "")
        notes.append(("info", _("The prompt is empty, so generation starts from “{default}”.").format(default=default)))
        text = default
    vocab = meta.tokenizer.get_vocab() if meta.tokenizer is not None else {}
    if meta.tokenizer_kind == "char":
        missing = sorted(set(text) - set(vocab))
        if missing:
            shown = " ".join(repr(c) for c in missing[:20])
            notes.append(("warning", _("These characters are not in the model's vocabulary and were left out: {chars}.")
                          .format(chars=shown)))
            text = "".join(c for c in text if c in vocab)
    elif meta.tokenizer_kind == "word":
        unknown = [w for w in dict.fromkeys(text.split()) if w not in vocab]
        if unknown:
            shown = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
            notes.append(("warning", _("Words the vocabulary lacks became <unk>: {words}.").format(words=shown)))
    ids = meta.encode(text) if text else []
    if not ids:  # everything was left out: fall back to the default prompt
        default = DEFAULT_PROMPTS.get(meta.task, "")
        ids = meta.encode(default) if default else [0]
        notes.append(("info", _("Nothing of the prompt was left, so generation starts from “{default}”.").format(
            default=default)))
    context = context_length(meta)
    if len(ids) > context:
        notes.append(("info", _("The prompt has {n} tokens but the model reads at most {context}: only the last "
                                "{context} are used.").format(n=len(ids), context=context)))
        ids = ids[-context:]
    return PreparedPrompt(ids=ids, notes=notes)



@dataclass(frozen=True)
class SamplingSettings:
    """The sampling knobs: temperature, top-k (None = off), top-p (None = off), seed and length."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0
    max_new_tokens: int = 100

    def describe(self) -> str:
        """A one-line summary: ``temperature 0.8, top-k 40, top-p off, seed 0``."""
        k = str(self.top_k) if self.top_k else _("off")
        p = f"{self.top_p:g}" if self.top_p is not None and self.top_p < 1 else _("off")
        return _("temperature {t:g}, top-k {k}, top-p {p}, seed {seed}").format(
            t=self.temperature, k=k, p=p, seed=self.seed
        )


@dataclass
class GeneratedStep:
    """One sampled token, as the pages show it: its text and what it was drawn from."""

    step: int
    token_id: int
    token: str  # the token's text (a character, a word, a BPE piece)
    prob: float  # probability under the distribution it was drawn from (temperature, top-k, top-p applied)
    model_prob: float  # probability under the model's plain softmax (temperature 1)
    candidates: list[tuple[str, int, float, float]]  # (text, id, prob, model_prob), most probable first


def sample(model: nn.Module, meta: CheckpointMeta, prompt_ids: list[int], settings: SamplingSettings,
           n_candidates: int = 10) -> Iterator[GeneratedStep]:
    """Sample ``settings.max_new_tokens`` tokens after ``prompt_ids`` (:func:`transformer.sampling.generate`).

    The same seed and settings give the same tokens. Raises ValueError on bad settings.
    """
    with inference_threads():
        for record in generate(
            model, prompt_ids, settings.max_new_tokens, temperature=settings.temperature, top_k=settings.top_k,
            top_p=settings.top_p, seed=settings.seed, n_candidates=n_candidates,
        ):
            ids = [c[0] for c in record.candidates]
            texts = meta.token_strings(ids)
            yield GeneratedStep(
                step=record.step,
                token_id=record.token_id,
                token=meta.token_strings([record.token_id])[0],
                prob=record.prob,
                model_prob=record.model_prob,
                candidates=[(t, i, p, mp) for t, (i, p, mp) in zip(texts, record.candidates, strict=True)],
            )


def visible(token: str) -> str:
    """A token's text with its whitespace made visible: space → ␣, newline → ↵, tab → ⇥."""
    return token.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def candidate_rows(step: GeneratedStep, n: int = 10) -> pd.DataFrame:
    """Long-form rows for :func:`ui.charts.lines.candidates_spec`: each candidate's two probabilities.

    When the drawn token is not among the top ``n`` (a lucky draw at a high temperature), it is added as
    a last row, so the chart always shows what was chosen; otherwise its label ends "◀ drawn".
    """
    drawn, model = _("drawn from (after temperature, top-k, top-p)"), _("model (temperature 1)")
    rows = []
    shown = step.candidates[:n]
    for rank, (text, token_id, p, mp) in enumerate(shown):
        chosen = token_id == step.token_id
        label = f"{rank + 1}. {visible(text)}" + ("  ◀ " + _("drawn") if chosen else "")
        rows.append({"token": label, "distribution": drawn, "probability": p, "chosen": chosen})
        rows.append({"token": label, "distribution": model, "probability": mp, "chosen": chosen})
    if step.token_id not in {c[1] for c in shown}:
        label = _("drawn: {token}").format(token=visible(step.token))
        rows.append({"token": label, "distribution": drawn, "probability": step.prob, "chosen": True})
        rows.append({"token": label, "distribution": model, "probability": step.model_prob, "chosen": True})
    return pd.DataFrame(rows, columns=["token", "distribution", "probability", "chosen"])


def least_certain_step(steps: list[GeneratedStep]) -> int:
    """1-based number of the step whose drawn token had the lowest probability (where sampling mattered most)."""
    return 1 + min(range(len(steps)), key=lambda i: steps[i].prob) if steps else 1


def steps_table(steps: list[GeneratedStep], n: int = 5) -> pd.DataFrame:
    """One row per generated token: step, token, its probabilities, and the top-``n`` candidates."""
    return pd.DataFrame(
        [
            {
                _("step"): s.step + 1,
                _("token"): visible(s.token),
                _("probability"): round(s.prob, 4),
                _("model probability"): round(s.model_prob, 4),
                _("top candidates"): "  ".join(f"{visible(t)} {p:.2f}" for t, _i, p, _mp in s.candidates[:n]),
            }
            for s in steps
        ]
    )

