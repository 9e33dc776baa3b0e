"""Helpers shared by the pages, one concern per module; pages import them, the core never does.

- ``checkpoints``: which trained checkpoints there are, the one checkpoint picker every page uses, loading
  them once per server, running them on one thread.
- ``sampling``, ``attention_maps``, ``translation``: what the Generate, Attention-maps and Translate pages do
  with a loaded model (prompts and sampled steps; the attention extractors and their CSV / NPZ files; source
  checks, greedy / beam translation and the n-best table).
- ``labels``: the names shown for tasks, model families, job statuses, attention kinds and languages.
- ``charts`` (a package): altair specs on screen, seaborn PNGs and CSVs to download, the widgets that show them.
- ``runs``, ``jobs``, ``page_state``: the Train page's runs, background jobs and the session's records.
- ``inputs``, ``text``, ``tokenizing``, ``diagrams``, ``fonts``: the explorer pages' inputs and drawings.
- ``i18n``, ``i18n_catalogs``: the translation function ``_()``, the language switch, the catalogs.
"""
