"""The course tasks: each task's data module beside its task adapter, a ``Task`` protocol and a registry.

- ``trainers.tasks.base``: the ``Task`` protocol every adapter follows, the one teacher-forcing loss
  (``teacher_forcing_loss``, ``TeacherForcingLoss``) and ``TrainingStopped``.
- ``trainers.tasks.registry``: ``make_task(config, device)``: the adapter of ``config.task``.
- Adapters (batches, loss, metrics, evaluation): ``addsub_task`` (``AddSubTask``, ``evaluate_addsub_pairs``),
  ``lm_task`` (``LanguageModelTask``, ``evaluate_lm_split``), ``translation_task`` (``TranslationTask``,
  ``evaluate_translation``).

Data modules (datasets and tokenizers):

- ``trainers.tasks.addsub``: EECS 498 A5's two-digit addition/subtraction, sequence to sequence
  (``AddSubDataset``, ``load_course_split``, ``generate_expressions``, ``make_split``: generated data when
  the course file is absent).
- ``trainers.tasks.lm``: language modelling on WikiText-2 (words, as PyTorch's word_language_model),
  Tiny Shakespeare and Anna Karenina (characters, as nanoGPT), each also with BPE (``load_lm_corpus``),
  and the batching (``batchify``, ``get_batch``, ``random_windows``).
- ``trainers.tasks.wikitext2``: WikiText-2's files or its Hub copy, word counts, perplexity per word and
  the word tokenizer.
- ``trainers.tasks.translation``: Multi30k English→German / English→French and Anki English→French with a
  shared BPE tokenizer (``load_translation_data``, ``read_split``).

This file imports nothing, so listing the tasks costs nothing; import the submodule you need.
"""

LM_TASKS: tuple[str, ...] = ("wikitext2", "shakespeare", "anna")
TRANSLATION_TASKS: tuple[str, ...] = ("multi30k_en_de", "multi30k_en_fr", "anki_en_fr")
TASKS: tuple[str, ...] = ("addsub", *LM_TASKS, *TRANSLATION_TASKS)

__all__ = ["LM_TASKS", "TASKS", "TRANSLATION_TASKS"]
