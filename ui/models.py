"""Trained models for the Generate, Translate and Attention-maps pages: find them, prompt them, sample, translate,
look at attention.

A thin adapter between the pages and :mod:`trainers.checkpoint` / :mod:`transformer.sampling`. No
Streamlit here (pages cache :func:`load_model` with ``st.cache_resource``) and no maths of its own:
sampling is :func:`transformer.sampling.generate`, AddSub answers are :func:`trainers.tasks.addsub_task.addsub_answers`,
translations are :mod:`trainers.translate` (greedy and beam search of :mod:`transformer.decoding`), attention weights come from ``model(..., return_attention=True)``. What it adds is what a page needs
around them: which checkpoints exist, what to do with an empty, unknown-word or too-long prompt (with a
note to show), rows for the candidate charts, and the weights as CSV / NPZ files with the model's config
and the input.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainers.checkpoint import CheckpointMeta, list_checkpoints, load_checkpoint, read_meta
from transformer.sampling import generate
from ui.i18n import _
from ui.text import unique_labels

REPO = Path(__file__).resolve().parent.parent
ENV_ASSETS_DIR = "TC_ASSETS_DIR"
INFERENCE_THREADS = 1  # torch threads for sampling and attention maps (see inference_threads)
MAX_HEATMAP_TOKENS = 64  # heatmaps stay readable up to about 64 tokens a side
# Where an empty prompt starts, per task: something the corpus itself would say.
DEFAULT_PROMPTS: dict[str, str] = {"shakespeare": "ROMEO:", "anna": "Anna", "wikitext2": "The"}
ATTENTION_KINDS: tuple[str, ...] = ("encoder_self", "decoder_self", "cross")


def kind_names() -> dict[str, str]:
    """Attention kind → the name the pages show."""
    return {
        "encoder_self": _("Encoder self-attention"),
        "decoder_self": _("Decoder masked self-attention"),  # a language model's only kind
        "cross": _("Cross-attention (decoder → encoder)"),
    }


def no_attention_sentence() -> str:
    """The plain sentence the Generate and Attention-maps pages show for an LSTM checkpoint."""
    return _("This model is an LSTM: it has no attention, so there is no attention map to show. It reads the text "
             "one token at a time and carries everything it remembers in its hidden state; only a transformer "
             "has per-head attention weights to look at.")


def arch_label(arch: str) -> str:
    """Display name of an architecture: "transformer" → "Transformer", "lstm" → "LSTM"."""
    return {"transformer": _("Transformer"), "lstm": _("LSTM")}.get(arch, arch)


def task_label(task: str) -> str:
    """Short display name of a task."""
    return {
        "addsub": _("AddSub"),
        "shakespeare": _("Tiny Shakespeare"),
        "anna": _("Anna Karenina"),
        "wikitext2": _("WikiText-2"),
        "multi30k_en_de": _("Multi30k English→German"),
        "multi30k_en_fr": _("Multi30k English→French"),
        "anki_en_fr": _("Anki English→French"),
    }.get(task, task)


@contextmanager
def inference_threads(n: int = INFERENCE_THREADS) -> Iterator[None]:
    """Run the calling thread's torch work on ``n`` threads, then restore its setting.

    These models are small: one token through them is well under a millisecond of work, and on a laptop
    whose cores are busy (training jobs, other sessions) two OpenMP threads spend their time waiting for
    each other. Measured here with two training jobs running: 100 WikiText-2 tokens took 7.4 s on two
    threads and 0.17 s on one. With OpenMP the setting is per thread, so other sessions are unaffected.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------------
# Which checkpoints there are
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckpointChoice:
    """One entry of a checkpoint picker."""

    path: str
    label: str
    task: str
    source: str  # "shipped" (assets/) or "session" (trained on the Train page in this session)


def assets_dir() -> Path:
    """Where the shipped checkpoints are: env ``TC_ASSETS_DIR``, else ``<repo>/assets``."""
    env = os.environ.get(ENV_ASSETS_DIR)
    return Path(env).expanduser() if env else REPO / "assets"


def checkpoint_choices(
    session_checkpoints: list[tuple[str, str]] = (), tasks: tuple[str, ...] | None = None, assets: Path | None = None
) -> list[CheckpointChoice]:
    """The shipped checkpoints in ``assets/`` and this session's saved runs, optionally only for ``tasks``.

    ``session_checkpoints``: (run label, checkpoint folder) pairs. Folders that are gone or unreadable
    are left out. The session's own runs come first (newest first), then the shipped ones.
    """
    choices: list[CheckpointChoice] = []
    for label, path in reversed(list(session_checkpoints)):
        try:
            task = read_meta(path)["task"]
        except ValueError:
            continue
        choices.append(CheckpointChoice(str(path), _("{run} — {task} (your run)").format(run=label, task=task_label(task)),
                                        task, "session"))
    for info in sorted(list_checkpoints(assets or assets_dir()), key=lambda i: i.name):
        choices.append(CheckpointChoice(str(info.path), _("{name} — {task} (shipped)").format(
            name=info.name, task=_with_arch(task_label(info.task), info.arch)), info.task, "shipped"))
    return [c for c in choices if tasks is None or c.task in tasks]


def _with_arch(task: str, arch: str) -> str:
    """"Tiny Shakespeare" → "Tiny Shakespeare, LSTM" for an LSTM; transformers keep the plain task name."""
    return task if arch == "transformer" else _("{task}, {arch}").format(task=task, arch=arch_label(arch))


def load_model(path: str) -> tuple[nn.Module, CheckpointMeta]:
    """The model of a checkpoint folder in eval mode, and its meta. Raises ``CheckpointError`` (a ValueError)."""
    model, meta = load_checkpoint(path)
    model.eval()
    return model, meta


def checkpoint_stamp(path: str) -> float:
    """The modification time of a checkpoint's weights (part of the page's cache key, so a re-save reloads)."""
    weights = Path(path) / "model.safetensors"
    return weights.stat().st_mtime if weights.exists() else 0.0


# --------------------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------------------
@dataclass
class PreparedPrompt:
    """A prompt as the model will read it: ids, and notes ("info"/"warning", text) for the page to show."""

    ids: list[int]
    notes: list[tuple[str, str]] = field(default_factory=list)


def context_length(meta: CheckpointMeta) -> int:
    """How many tokens the model reads at once (its ``max_len``)."""
    return int(meta.model_config.max_len)


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


# --------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------
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
    """Long-form rows for :func:`ui.live_charts.candidates_spec`: each candidate's two probabilities.

    When the drawn token is not among the top ``n`` (a lucky draw at a high temperature), it is added as
    a last row, so the chart always shows what was chosen.
    """
    drawn, model = _("drawn from (after temperature, top-k, top-p)"), _("model (temperature 1)")
    rows = []
    shown = step.candidates[:n]
    for rank, (text, token_id, p, mp) in enumerate(shown):
        label = f"{rank + 1}. {visible(text)}"
        chosen = token_id == step.token_id
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


# --------------------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Translation
# --------------------------------------------------------------------------------------------------


def language_names(meta: CheckpointMeta) -> tuple[str, str]:
    """(source, target) language names of a translation checkpoint, translated for the page."""
    from trainers.tasks.translation import LANGUAGES

    _corpus, src, tgt = LANGUAGES[meta.task]
    names = {"en": _("English"), "de": _("German"), "fr": _("French")}
    return names[src], names[tgt]


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
