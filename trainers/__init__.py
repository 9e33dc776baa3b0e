"""Training side of Transformer Classroom: tasks (datasets + tokenizers), trainer, checkpoints, CLI.

Submodules are imported explicitly (``from trainers.tasks import addsub``); this package file stays
free of heavy imports so that ``import trainers`` is instant.
"""
