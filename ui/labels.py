"""The names the pages show for the project's ids, in one place: tasks, model families, job statuses,
attention kinds and languages.

Each function returns the name in the session's language (:func:`ui.i18n._`); an id it does not know is
shown as it is. No Streamlit widgets here, nothing computed.
"""

from __future__ import annotations

from ui.i18n import N_, _

# A job's status as the Train page shows it (translated when shown).
STATUS_NAMES = {"queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
                "stopped": N_("stopped"), "failed": N_("failed")}


def status_name(status: str) -> str:
    """A job's status in the session's language (an unknown one as it is)."""
    return _(STATUS_NAMES[status]) if status in STATUS_NAMES else status


def task_label(task: str) -> str:
    """Short display name of a task, as checkpoint pickers and captions show it."""
    return {
        "addsub": _("AddSub"),
        "shakespeare": _("Tiny Shakespeare"),
        "anna": _("Anna Karenina"),
        "wikitext2": _("WikiText-2"),
        "multi30k_en_de": _("Multi30k English→German"),
        "multi30k_en_fr": _("Multi30k English→French"),
        "anki_en_fr": _("Anki English→French"),
        "gpt2": _("GPT-2 (Hugging Face)"),
    }.get(task, task)


def task_names() -> dict[str, str]:
    """Task id → the longer name the Train page's task picker shows (what the data is, in brackets)."""
    return {
        "addsub": _("AddSub (two-digit addition and subtraction)"),
        "shakespeare": _("Tiny Shakespeare (characters)"),
        "anna": _("Anna Karenina (characters)"),
        "wikitext2": _("WikiText-2 (words)"),
        "anki_en_fr": _("Translation: Anki English→French (short sentences)"),
        "multi30k_en_de": _("Translation: Multi30k English→German"),
        "multi30k_en_fr": _("Translation: Multi30k English→French"),
    }


def family_label(family: str) -> str:
    """Display name of a model family: "transformer" → "Transformer", "lstm" → "LSTM"."""
    return {"transformer": _("Transformer"), "lstm": _("LSTM")}.get(family, family)


def kind_names() -> dict[str, str]:
    """Attention kind (``ui.attention_maps.ATTENTION_KINDS``) → the name the pages show."""
    return {
        "encoder_self": _("Encoder self-attention"),
        "decoder_self": _("Decoder masked self-attention"),  # a language model's only kind
        "cross": _("Cross-attention (decoder → encoder)"),
    }


def language_name(code: str) -> str:
    """A language code of the translation tasks ("en", "de", "fr") → its name in the session's language."""
    return {"en": _("English"), "de": _("German"), "fr": _("French")}.get(code, code)
