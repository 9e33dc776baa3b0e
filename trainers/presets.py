"""The presets the Train page and the CLI offer: ``PRESETS[task][name]`` is a :class:`Preset`, a ready
:class:`trainers.config.TrainConfig` plus one sentence for the page and the wall time it took on a 2-core
laptop CPU. ``preset_config(task, name, **overrides)`` returns a fresh copy to edit.

Descriptions and times are marked ``N_()`` for the interface's translation catalogs (Babel extracts them from
this file; the Train page translates them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from trainers.config import TrainConfig, model_config, with_hyper

__all__ = ["PRESETS", "Preset", "preset_config"]


@dataclass(frozen=True)
class Preset:
    """A named, ready-to-run configuration and what it costs on a laptop."""

    name: str  # "tiny", "small", …
    task: str
    description: str  # one sentence for the Train page
    laptop_time: str  # measured wall time on 2 CPU cores, e.g. "about 30 s on 2 CPU cores"
    config: TrainConfig  # do not edit in place: use preset_config()


def N_(message: str) -> str:
    """Mark a string for the interface's translation catalogs (Babel extracts it; the Train page translates it)."""
    return message


def _preset(name: str, description: str, laptop_time: str, config: TrainConfig) -> Preset:
    return Preset(name, config.task, description, laptop_time, replace(config, preset=name))


# Figures in laptop_time are wall-clock times measured on the course's 2-core machine while other work
# shared it: tiny presets in-process (a TrainingJob, data cached after the first run), small ones with
# benchmarks/train_tasks.py, shipped ones with `python -m trainers train` (see assets/README.md).
PRESETS: dict[str, dict[str, Preset]] = {
    "addsub": {
        "tiny": _preset(
            "tiny",
            N_("A 1+1-layer encoder-decoder (d_model 32) for 60 steps: the loss visibly falls; accuracy stays low."),
            N_("about 2 s on 2 CPU cores"),
            TrainConfig(
                task="addsub",
                model=model_config(d_model=32, n_heads=2, n_layers=1, d_ff=64, dropout=0.0),
                lr=3e-3, warmup_steps=10, batch_size=64, max_steps=60, eval_every=30, eval_batches=2, threads=1,
            ),
        ),
        "small": _preset(
            "small",
            N_("A 2+2-layer post-norm encoder-decoder (d_model 128) on the course's 4,500 training expressions "
               "for 60 s; reached 0.994 exact-match on the course's validation split."),
            N_("about 60 s on 2 CPU cores"),
            TrainConfig(
                task="addsub",
                model=model_config(d_model=128, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, norm_first=False),
                lr=3e-3, warmup_steps=100, batch_size=128, max_steps=None, max_time_s=60,
                eval_every=100, eval_batches=None, weight_decay=0.01, addsub_source="course",
            ),
        ),
        "shipped": _preset(
            "shipped",
            N_("The model in assets/addsub: 2,000 steps on 15,000 generated expressions (validation excluded)."),
            N_("about 2.5 min on 2 CPU cores (one thread)"),
            TrainConfig(
                task="addsub",
                model=model_config(d_model=128, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, norm_first=False),
                lr=3e-3, warmup_steps=100, batch_size=128, max_steps=2000, max_time_s=None,
                addsub_source="generated", addsub_train_size=15000, eval_every=500, eval_batches=None,
            ),
        ),
        "exact": _preset(
            "exact",
            N_("The shipped recipe on two threads for 2,600 steps: every one of the course's 500 validation "
               "expressions right (500/500 from step 2,400 on, in two runs)."),
            N_("about 2 min on 2 CPU cores (two threads)"),
            TrainConfig(
                task="addsub",
                model=model_config(d_model=128, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, norm_first=False),
                lr=3e-3, warmup_steps=100, batch_size=128, max_steps=2600, max_time_s=None, threads=2,
                addsub_source="generated", addsub_train_size=15000, eval_every=400, eval_batches=None,
            ),
        ),
    },
    "shakespeare": {
        "tiny": _preset(
            "tiny",
            N_("A 2-layer character model (d_model 64) for 100 steps: babble with Shakespeare's letters."),
            N_("about 2.5 s on 2 CPU cores"),
            TrainConfig(
                task="shakespeare",
                model=model_config(d_model=64, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, activation="gelu"),
                lr=3e-3, warmup_steps=10, batch_size=16, block_size=64, max_steps=100, eval_every=50, eval_batches=4,
                final_eval=False, threads=1,
            ),
        ),
        "causal-demo": _preset(
            "causal-demo",
            N_("The causal-mask demo: a 2-layer character model (d_model 64) for exactly 400 steps. Train it, turn "
               "the causal mask off, train again: both runs get the same steps however busy the machine is."),
            N_("about 15 s on 2 CPU cores"),
            TrainConfig(
                task="shakespeare",
                model=model_config(d_model=64, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, activation="gelu"),
                lr=3e-3, warmup_steps=20, batch_size=16, block_size=64, max_steps=400, max_time_s=None,
                eval_every=100, eval_batches=8, threads=1,
            ),
        ),
        "small": _preset(
            "small",
            N_("A 3-layer character model (d_model 128, context 64) for 45 s: recognisable words and speakers; "
               "about 1.7 nats per character on the validation text on an idle machine (a busy one fits fewer "
               "steps in 45 s, and the loss ends higher)."),
            N_("about 50 s on 2 CPU cores"),
            TrainConfig(
                task="shakespeare",
                model=model_config(d_model=128, n_heads=4, n_layers=3, d_ff=512, dropout=0.0, activation="gelu"),
                lr=4e-3, warmup_steps=50, batch_size=24, block_size=64, max_steps=None, max_time_s=45,
                eval_every=100, eval_batches=5, precision="auto",
            ),
        ),
        "shipped": _preset(
            "shipped",
            N_("The model in assets/shakespeare: 4 layers, context 128, 2,500 steps, a little dropout."),
            N_("about 10 min on 2 CPU cores (one thread)"),
            TrainConfig(
                task="shakespeare",
                model=model_config(d_model=128, n_heads=4, n_layers=4, d_ff=512, dropout=0.1, activation="gelu"),
                lr=3e-3, warmup_steps=100, batch_size=24, block_size=128, max_steps=2500, max_time_s=None,
                eval_every=500, eval_batches=10, precision="auto",
            ),
        ),
    },
    "anna": {
        "tiny": _preset(
            "tiny",
            N_("A 2-layer character model (d_model 64) for 100 steps on Anna Karenina."),
            N_("about 2.5 s on 2 CPU cores"),
            TrainConfig(
                task="anna",
                model=model_config(d_model=64, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, activation="gelu"),
                lr=3e-3, warmup_steps=10, batch_size=16, block_size=64, max_steps=100, eval_every=50, eval_batches=4,
                final_eval=False, threads=1,
            ),
        ),
        "small": _preset(
            "small",
            N_("A 3-layer character model (d_model 128, context 64) for 45 s on Anna Karenina."),
            N_("about 50 s on 2 CPU cores"),
            TrainConfig(
                task="anna",
                model=model_config(d_model=128, n_heads=4, n_layers=3, d_ff=512, dropout=0.0, activation="gelu"),
                lr=4e-3, warmup_steps=50, batch_size=24, block_size=64, max_steps=None, max_time_s=45,
                eval_every=100, eval_batches=5, precision="auto",
            ),
        ),
    },
    "wikitext2": {
        "tiny": _preset(
            "tiny",
            N_("A 1-layer word model (d_model 64, adaptive softmax) for 40 steps: the loss falls from ln 33,278 ≈ 10.4."),
            N_("about 3 s on 2 CPU cores (most of it reading the corpus; under 1 s once it is cached)"),
            TrainConfig(
                task="wikitext2",
                model=model_config(
                    d_model=64, n_heads=2, n_layers=1, d_ff=128, dropout=0.0,
                    adaptive_cutoffs=[2000, 10000], tie_embeddings=True,
                ),
                lr=3e-3, warmup_steps=5, batch_size=16, block_size=32, max_steps=40, eval_every=20, eval_batches=4,
                final_eval=False, threads=1,
            ),
        ),
        "small": _preset(
            "small",
            N_("A 2-layer word model (d_model 256, context 64, tied adaptive input and softmax) for 5 minutes; "
               "reached validation perplexity 199 (the PyTorch example's Transformer: 319 after 23 minutes)."),
            N_("about 5.5 min on 2 CPU cores"),
            TrainConfig(
                task="wikitext2",
                model=model_config(
                    d_model=256, n_heads=4, n_layers=2, d_ff=1024, dropout=0.0,
                    adaptive_cutoffs=[2000, 10000], tie_embeddings=True,
                ),
                lr=3e-3, warmup_steps=100, batch_size=32, block_size=64, max_steps=None, max_time_s=300,
                eval_every=500, eval_batches=20, precision="auto",
            ),
        ),
        "shipped": _preset(
            "shipped",
            N_("The model in assets/wikitext2: context 128, dropout 0.1, 1,500 steps (6.1 M words, ~3 epochs)."),
            N_("about 25 min on 2 CPU cores (one thread)"),
            TrainConfig(
                task="wikitext2",
                model=model_config(
                    d_model=256, n_heads=4, n_layers=2, d_ff=1024, dropout=0.1,
                    adaptive_cutoffs=[2000, 10000], tie_embeddings=True,
                ),
                lr=2e-3, warmup_steps=100, batch_size=32, block_size=128, max_steps=1500, max_time_s=None,
                eval_every=500, eval_batches=20, save_dtype="float16",
            ),
        ),
    },
    # Translation (encoder-decoder, shared BPE, source/target/output embeddings one matrix: Vaswani et al. §3.4).
    "anki_en_fr": {
        "tiny": _preset(
            "tiny",
            N_("A 2+2-layer encoder-decoder (d_model 128) on short English→French pairs for 150 s: the loss falls from "
               "ln 2,000 ≈ 7.6 and BLEU rises from 0; reached validation BLEU 21.6 (greedy) in 1,385 steps."),
            N_("about 2.5 min on 2 CPU cores"),
            TrainConfig(
                task="anki_en_fr",
                model=model_config(d_model=128, n_heads=4, n_layers=2, d_ff=256, dropout=0.1,
                                  share_embeddings=True, tie_embeddings=True),
                bpe_vocab_size=2000, lr=3e-3, warmup_steps=100, beta2=0.98, label_smoothing=0.1, batch_size=64,
                max_steps=None, max_time_s=150, eval_every=100, eval_batches=2, threads=1, precision="auto",
            ),
        ),
    },
    "multi30k_en_de": {
        "tiny": _preset(
            "tiny",
            N_("A 2+2-layer encoder-decoder (d_model 128) on Multi30k English→German for 2 minutes: the loss falls "
               "and common captions come out right; reached validation BLEU 16.9 (greedy) in 580 steps."),
            N_("about 2 min on 2 CPU cores"),
            TrainConfig(
                task="multi30k_en_de",
                model=model_config(d_model=128, n_heads=4, n_layers=2, d_ff=256, dropout=0.1,
                                  share_embeddings=True, tie_embeddings=True),
                bpe_vocab_size=4000, lr=3e-3, warmup_steps=100, beta2=0.98, label_smoothing=0.1, batch_size=64,
                max_steps=None, max_time_s=120, eval_every=100, eval_batches=2, threads=1, precision="auto",
            ),
        ),
        "shipped": _preset(
            "shipped",
            N_("The model in assets/multi30k_en_de: 3 encoder + 2 decoder layers (d_model 256), shared 6,000-piece BPE, "
               "one embedding matrix for source, target and output, 45 minutes of training."),
            N_("about 45 min on 2 CPU cores, one thread"),
            TrainConfig(
                task="multi30k_en_de",
                model=model_config(d_model=256, n_heads=8, n_layers=2, n_encoder_layers=3, d_ff=512, dropout=0.1,
                                  share_embeddings=True, tie_embeddings=True),
                bpe_vocab_size=6000, lr=1e-3, warmup_steps=400, beta2=0.98, label_smoothing=0.1, batch_size=128,
                max_steps=None, max_time_s=2700, eval_every=400, eval_batches=4, precision="auto", threads=1,
                save_dtype="float16",
            ),
        ),
    },
    "multi30k_en_fr": {
        "tiny": _preset(
            "tiny",
            N_("A 2+2-layer encoder-decoder (d_model 128) on Multi30k English→French for 2 minutes."),
            N_("about 2 min on 2 CPU cores"),
            TrainConfig(
                task="multi30k_en_fr",
                model=model_config(d_model=128, n_heads=4, n_layers=2, d_ff=256, dropout=0.1,
                                  share_embeddings=True, tie_embeddings=True),
                bpe_vocab_size=4000, lr=3e-3, warmup_steps=100, beta2=0.98, label_smoothing=0.1, batch_size=64,
                max_steps=None, max_time_s=120, eval_every=100, eval_batches=2, threads=1, precision="auto",
            ),
        ),
    },
}


def preset_config(task: str, name: str = "tiny", **overrides) -> TrainConfig:
    """A fresh copy of ``PRESETS[task][name].config`` with ``overrides`` applied (validated again).

    Raises ValueError naming the tasks or presets on offer when either is unknown.
    """
    if task not in PRESETS:
        raise ValueError(f"task must be one of {', '.join(PRESETS)}, got {task!r}")
    if name not in PRESETS[task]:
        raise ValueError(f"{task} has presets {', '.join(PRESETS[task])}; there is no {name!r}")
    config = copy.deepcopy(PRESETS[task][name].config)
    if "model" in overrides and isinstance(overrides["model"], dict):
        hyper = dict(overrides["model"])
        if "max_len" in hyper:  # the model's positions are a TrainConfig field (the task fills the model's in)
            overrides.setdefault("max_len", hyper.pop("max_len"))
        overrides["model"] = with_hyper(config.model, **hyper)
    if "arch" in overrides:  # the model family's older name (and the CLI flag's)
        overrides["family"] = overrides.pop("arch")
    return replace(config, **overrides)
