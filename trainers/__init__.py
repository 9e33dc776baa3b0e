"""Training side of Transformer Classroom.

Layout (one concern per module):

- ``config``: ``TrainConfig`` (task, model ``family`` transformer/lstm, the model's hyper-parameters as the
  core's ``TransformerConfig`` via ``model_config``, optimiser, limits).
- ``presets``: the measured tiny / small / shipped ``PRESETS`` and ``preset_config``.
- ``tasks/``: the course tasks. Each data module (``addsub``, ``lm``, ``translation``) sits beside its
  task adapter (``addsub_task``, ``lm_task``, ``translation_task``: batches, loss, metrics, evaluation);
  ``tasks.base`` holds the ``Task`` protocol and the one teacher-forcing loss, ``tasks.registry`` maps
  task names to adapters.
- ``trainer``: the loop (``Trainer``), its callbacks and plain result records; it knows no task by name.
- ``schedule``: warmup then cosine / inverse-square-root decay as a ``torch.optim.lr_scheduler.LambdaLR``.
- ``lstm``: the LSTM baseline language model.
- ``translate``: translating sentences with a trained encoder-decoder (greedy or beam search).
- ``checkpoint``, ``evaluate``, ``worker`` (a run in a worker process) and ``jobs`` (the job manager), ``cli`` (``python -m trainers``),
  ``data_paths`` (where the course data lives; Tiny Shakespeare ships in ``assets/data``), ``data_status``
  (is a task's data here, downloadable, or waiting for a folder), ``hub`` (a quick Hugging Face Hub probe).

Submodules are imported explicitly (``from trainers.tasks import addsub``); this package file stays
free of heavy imports so that ``import trainers`` is instant.
"""
