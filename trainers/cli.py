"""Command line: ``python -m trainers train …`` and ``python -m trainers evaluate … --json``.

    python -m trainers train --task addsub|wikitext2|shakespeare|anna|multi30k_en_de|multi30k_en_fr|anki_en_fr
        [--preset tiny|small|…] [--arch transformer|lstm]
        [--max-time SECONDS] [--max-steps N] [--out DIR] [--data-dir DIR] [--device auto|cpu|cuda]
        [--seed N] [--lr LR] [--batch-size N] [--block-size N] [--tokenizer word|char|bpe]
        [--threads N] [--run-id NAME] [--save-dtype float32|float16] [--set FIELD=VALUE …] [--json]
        [--probe TEXT] [--snapshot-every N]
    python -m trainers evaluate --checkpoint DIR [DIR …] [--data PATH] [--split valid|test|train] [--stride N] --json
    python -m trainers evaluate --checkpoint DIR [--split test_2016_flickr|val|train]
        [--decoding greedy|beam] [--beam-width 4] [--length-penalty 0.6] --json      (translation: BLEU)
    python -m trainers evaluate --checkpoint GPT2_DIR --data FILE --json       (a GPT-2-family folder: loss on FILE)
    python -m trainers generate --checkpoint DIR --prompt TEXT [--max-new-tokens N] [--temperature T]
        [--top-k K] [--top-p P] [--seed S] [--threads N] [--json]
    python -m trainers list [ROOT …]
    python -m trainers data [--task TASK] [--data-dir DIR] [--json]

``data`` says, for each task, whether its data is ready, downloadable from the Hugging Face Hub (with its
size) or needs a folder (and which files it must hold), as the Train page does before Start.

``generate`` samples from any language-model checkpoint (a transformer, an LSTM, or a Hugging Face GPT-2-family
folder), as nanoGPT's sample.py: ``--temperature 0`` is greedy; ``--json`` prints one object with the
generated ``text`` and ``token_ids`` (the new tokens only) beside the prompt's.

``train`` prints progress on stderr and saves a checkpoint (default ``runs/<run_id>/checkpoint``; only
rank 0 under ``torchrun --nproc_per_node=N -m trainers train …``, which trains with
DistributedDataParallel: gloo on CPU, nccl on GPU). With ``--snapshot-every N`` (or ``--probe TEXT``) it records
the model's attention on the probe every N steps and at the first and last step, and writes
``attention_snapshots.npz`` into the checkpoint (:mod:`trainers.snapshots`). ``evaluate --json`` prints exactly one
JSON object on stdout (one per checkpoint). Errors (missing data, bad arguments) are one line on stderr and exit
status 2; ``evaluate`` checks every checkpoint it is given before loading any and reports each malformed one on a
line of its own (``error: PATH: reason``), exiting 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

__all__ = ["main"]


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


def _parser() -> argparse.ArgumentParser:
    from .config import SAVE_DTYPES, TASKS

    parser = argparse.ArgumentParser(prog="python -m trainers", description="Train and evaluate the course's tasks.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model on a task and save a checkpoint")
    train.add_argument("--task", required=True, choices=TASKS)
    train.add_argument("--preset", default=None, help="a preset of the task (tiny, small, …; default tiny)")
    train.add_argument(
        "--arch", "--family", dest="arch", default=None, choices=("transformer", "lstm"),
        help="language models: the transformer (default) or the LSTM baseline of the preset's d_model, layers, "
             "dropout and output layer",
    )
    train.add_argument("--max-time", type=float, default=None, help="wall-clock budget in seconds")
    train.add_argument("--max-steps", type=int, default=None, help="optimiser steps")
    train.add_argument("--out", default=None, help="checkpoint folder (default runs/<run_id>/checkpoint)")
    train.add_argument(
        "--data-dir", default=None,
        help="folder holding the task's files (language models and translation; see `python -m trainers data`)",
    )
    train.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"))
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--lr", type=float, default=None, help="peak learning rate")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--block-size", type=int, default=None, help="tokens per sequence (language models)")
    train.add_argument("--tokenizer", default=None, choices=("word", "char", "bpe"))
    train.add_argument("--threads", type=int, default=None, help="torch threads")
    train.add_argument("--run-id", default=None)
    train.add_argument("--runs-dir", default=None, help="root of TensorBoard logs (default runs)")
    train.add_argument("--save-dtype", default=None, choices=SAVE_DTYPES)
    train.add_argument("--no-tensorboard", action="store_true")
    train.add_argument("--no-save", action="store_true", help="do not save a checkpoint")
    train.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="override any TrainConfig field, e.g. --set warmup_steps=200 --set model.d_model=256 (JSON values)",
    )
    train.add_argument(
        "--probe", default=None, metavar="TEXT",
        help="the input attention snapshots are recorded on (default: the task's, e.g. '-30 - -34' for AddSub; "
             "translation: 'source ||| translation')",
    )
    train.add_argument(
        "--snapshot-every", type=int, default=None, metavar="N",
        help="record the attention on the probe every N steps and at the first and last step "
             "(default with --probe: about 40 snapshots a run); saved as attention_snapshots.npz",
    )
    train.add_argument("--json", action="store_true", help="print the run summary as one JSON object on stdout")
    train.add_argument("--quiet", action="store_true", help="no progress lines")

    data = sub.add_parser("data", help="is each task's data here, downloadable, or waiting for a folder?")
    data.add_argument("--task", default=None, choices=TASKS)
    data.add_argument("--data-dir", default=None, help="a folder to check for --task's files")
    data.add_argument("--json", action="store_true", help="print JSON (one object with --task, else a list)")

    evaluate = sub.add_parser("evaluate", help="evaluate a checkpoint")
    evaluate.add_argument(
        "--checkpoint", required=True, nargs="+",
        help="checkpoint folder(s); each is checked before any is loaded, and every malformed one is reported "
             "on a line of its own (exit status 2)",
    )
    evaluate.add_argument("--data", default=None, help="AddSub: a JSON file; language models: the corpus folder")
    evaluate.add_argument(
        "--split", default=None, choices=("train", "valid", "test", "val", "test_2016_flickr"),
        help="translation: test_2016_flickr (Multi30k's default; 'test' means it too), val or train",
    )
    evaluate.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    evaluate.add_argument(
        "--stride", type=int, default=None,
        help="language models: sliding windows starting every STRIDE tokens (default: non-overlapping windows)",
    )
    evaluate.add_argument("--decoding", default="greedy", choices=("greedy", "beam"),
                          help="translation: greedy or beam search (default greedy)")
    evaluate.add_argument("--beam-width", type=int, default=4, help="translation: beams kept (default 4)")
    evaluate.add_argument("--length-penalty", type=float, default=0.6,
                          help="translation: α of the length penalty ((5+|Y|)/6)^α (default 0.6)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    gen = sub.add_parser("generate", help="sample text from a language-model checkpoint (ours or a GPT-2 folder)")
    gen.add_argument("--checkpoint", required=True,
                     help="checkpoint folder, a GPT-2-family Hugging Face folder, or a Hub id (distilgpt2, gpt2) "
                          "found in models/ or the Hugging Face cache")
    gen.add_argument("--prompt", required=True, help="the text to continue")
    gen.add_argument("--max-new-tokens", type=int, default=100, help="tokens to generate (default 100)")
    gen.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = greedy (default 1)")
    gen.add_argument("--top-k", type=int, default=None, help="keep the K most probable tokens (default: all)")
    gen.add_argument("--top-p", type=float, default=None, help="keep the smallest set reaching probability P")
    gen.add_argument("--seed", type=int, default=0, help="random seed of the draws (default 0)")
    gen.add_argument("--threads", type=int, default=None, help="torch threads")
    gen.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    listing = sub.add_parser("list", help="list checkpoints under folders (default assets and runs)")
    listing.add_argument("roots", nargs="*", default=["assets", "runs"])
    return parser


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _apply_sets(config, sets: list[str]):
    from transformer.models import TransformerConfig

    from .config import TASK_FILLED, TrainConfig, with_hyper

    fields_top = set(TrainConfig.__dataclass_fields__)
    fields_model = set(TransformerConfig.__dataclass_fields__) - set(TASK_FILLED)
    top, model = {}, {}
    for item in sets:
        if "=" not in item:
            raise CLIError(f"--set expects FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key == "model.max_len":  # the positions are a TrainConfig field: the task fills in the model's
            key = "max_len"
        if key == "arch":  # the model family's older name
            key = "family"
        if key.startswith("model."):
            name = key[len("model."):]
            if name not in fields_model:
                raise CLIError(f"--set {key}: the model has no field {name!r} (fields: {', '.join(sorted(fields_model))})")
            model[name] = _parse_value(value)
        else:
            if key not in fields_top or key == "model":
                raise CLIError(f"--set {key}: TrainConfig has no field {key!r}")
            top[key] = _parse_value(value)
    if model:
        top["model"] = with_hyper(config.model, **model)
    return replace(config, **top) if top else config


def _train(args) -> int:
    import torch

    from .checkpoint import resolve_checkpoint, save_checkpoint
    from .presets import preset_config
    from .snapshots import SNAPSHOTS_FILE
    from .trainer import Callbacks, Trainer

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    overrides = {
        "max_time_s": args.max_time, "max_steps": args.max_steps, "data_dir": args.data_dir, "device": args.device,
        "seed": args.seed, "lr": args.lr, "batch_size": args.batch_size, "block_size": args.block_size,
        "tokenizer": args.tokenizer, "threads": args.threads, "run_id": args.run_id, "out_dir": args.runs_dir,
        "save_dtype": args.save_dtype,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.max_time is not None and args.max_steps is None:
        overrides["max_steps"] = None  # a time budget alone: run until it is spent
    if args.max_steps is not None and args.max_time is None:
        overrides["max_time_s"] = None
    if args.no_tensorboard:
        overrides["tensorboard"] = False
    if args.arch is not None:
        overrides["family"] = args.arch
    if args.probe is not None:
        overrides["probe"] = args.probe
    if args.snapshot_every is not None:
        overrides["snapshot_every"] = args.snapshot_every
    if args.arch == "lstm":  # an LSTM has no heads: free d_model from the divisibility check (see --set)
        overrides["model"] = {"n_heads": 1}
    try:
        config = preset_config(args.task, args.preset or "tiny", **overrides)
        config = _apply_sets(config, args.set)
        if config.probe is not None and config.snapshot_every is None:
            from .snapshots import default_snapshot_every

            config = replace(config, snapshot_every=default_snapshot_every(config.max_steps, max_time_s=config.max_time_s))
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    if args.out is not None:
        config = replace(config, checkpoint_dir=args.out)

    if world_size > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        if use_cuda:
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
        if config.run_id is None:  # every rank must log under one name; rank 0's pid names it
            holder = [f"{config.task}-ddp-{os.getpid()}"]
            torch.distributed.broadcast_object_list(holder, src=0)
            config = replace(config, run_id=holder[0])
    command = "python -m trainers " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    if world_size > 1:
        command = f"torchrun --nproc_per_node={world_size} -m trainers " + command.split(" ", 3)[-1]
    quiet = args.quiet or rank != 0

    def on_step(info):
        if not quiet and (info.step == 1 or info.step % 50 == 0):
            print(
                f"step {info.step:>6}  loss {info.train_loss:.4f}  lr {info.lr:.2e}  "
                f"{info.tokens_per_s:,.0f} tok/s  {info.elapsed_s:.0f} s",
                file=sys.stderr, flush=True,
            )

    def on_eval(info):
        if not quiet:
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in info.metrics.items()}
            label = "final" if info.final else "eval"
            print(f"{label} step {info.step}  val_loss {info.val_loss:.4f}  {shown}", file=sys.stderr, flush=True)

    try:
        trainer = Trainer(config, Callbacks(on_step=on_step, on_eval=on_eval))
        trainer.setup()  # loads the data: a missing corpus is reported before anything else is printed
        if not quiet:
            print(f"run {trainer.run_id}: {config.task}, {config.family}, preset {config.preset}, device {trainer.device}",
                  file=sys.stderr, flush=True)
            if getattr(trainer.task, "data_note", None):
                print(f"note: {trainer.task.data_note}", file=sys.stderr, flush=True)
            if trainer.snapshot_note:
                print(f"note: {trainer.snapshot_note}", file=sys.stderr, flush=True)
            elif trainer.snapshots is not None:
                print(f"attention snapshots every {config.snapshot_every} steps on the probe {trainer.probe.text!r}",
                      file=sys.stderr, flush=True)
        summary = trainer.fit()
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    path = None
    if rank == 0 and not args.no_save and summary.status != "failed":
        target = config.checkpoint_dir or os.path.join(config.out_dir, trainer.run_id, "checkpoint")
        path = save_checkpoint(
            target,
            trainer.model,
            task=config.task,
            tokenizer_kind=config.unit,
            tokenizer_json=trainer.task.tokenizer_json,
            train_config=config.to_dict(),
            metrics={**summary.final_metrics, "steps": summary.steps, "train_time_s": round(summary.train_time_s, 1),
                     "tokens_per_s": round(summary.tokens_per_s, 1)},
            command=command,
            task_info=trainer.task.task_info(),
            dtype=config.save_dtype,
            extra=summary.extra,
            snapshots=trainer.snapshots,
        )
    if world_size > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if rank == 0:
        if not quiet:
            print(f"{summary.status}: {summary.message}" + (f" Saved to {path}." if path else ""),
                  file=sys.stderr, flush=True)
            snaps = trainer.snapshots
            if path and snaps is not None and len(snaps):
                share = snaps.record_time_s / max(summary.train_time_s, 1e-9)
                print(f"{len(snaps)} attention snapshots ({snaps.record_time_s:.2f} s, {share:.1%} of training) in "
                      f"{resolve_checkpoint(path) / SNAPSHOTS_FILE}", file=sys.stderr, flush=True)
        if args.json:
            print(json.dumps({**summary.to_dict(), "run_id": trainer.run_id, "checkpoint": str(path) if path else None}))
    return 0 if summary.status != "failed" else 1


def _evaluate(args) -> int:
    from .checkpoint import CheckpointError, inspect_checkpoint
    from .evaluate import evaluate_checkpoint
    from .gpt2 import is_gpt2_folder

    malformed, good = [], []
    for name in args.checkpoint:  # every checkpoint is checked (header and JSON only) before any is loaded
        try:
            path = _checkpoint_path(name)
            if not is_gpt2_folder(Path(path)):  # a GPT-2 folder is checked by its own loader
                inspect_checkpoint(path)
        except (CheckpointError, CLIError) as exc:
            malformed.append(f"error: {name}: {exc}")
            continue
        good.append(path)
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    for path in good:
        try:
            result = evaluate_checkpoint(
                path, data=args.data, split=args.split, device=device, stride=args.stride,
                decoding=args.decoding, beam_width=args.beam_width, length_penalty=args.length_penalty,
            )
        except (CheckpointError, FileNotFoundError, ValueError, RuntimeError) as exc:
            if len(args.checkpoint) == 1:
                raise CLIError(str(exc)) from None
            malformed.append(f"error: {path}: {exc}")
            continue
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            for key, value in result.items():
                print(f"{key}: {value}")
    for line in malformed:
        print(" ".join(line.splitlines()), file=sys.stderr)
    return 2 if malformed else 0


def _checkpoint_path(name: str) -> str:
    """A checkpoint folder as given, or a GPT-2-family Hub id (distilgpt2, gpt2) found in models/ or the Hub cache."""
    if os.path.exists(name):
        return name
    from .checkpoint import CheckpointError
    from .gpt2 import resolve_gpt2

    try:
        return str(resolve_gpt2(name))
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def _generate(args) -> int:
    import torch

    from transformer.sampling import generate

    from .checkpoint import CheckpointError, load_checkpoint

    if args.max_new_tokens < 0:
        raise CLIError(f"--max-new-tokens must be ≥ 0, got {args.max_new_tokens}")
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be ≥ 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    try:
        model, meta = load_checkpoint(_checkpoint_path(args.checkpoint))
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if meta.task == "addsub" or meta.is_translation:
        raise CLIError(f"{args.checkpoint} is a {meta.task} model (an encoder-decoder): generate samples from language "
                       f"models; use evaluate, or the Translate page")
    try:
        prompt_ids = meta.encode(args.prompt)
    except ValueError as exc:
        raise CLIError(f"the prompt cannot be encoded: {exc}") from None
    if not prompt_ids:
        raise CLIError("the prompt is empty: give at least one token to continue")
    context = model.config.max_len
    if len(prompt_ids) > context:
        print(f"note: the prompt has {len(prompt_ids)} tokens; the model reads the last {context}", file=sys.stderr)
        prompt_ids = prompt_ids[-context:]
    try:
        steps = list(generate(model, prompt_ids, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                              top_p=args.top_p, seed=args.seed))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    token_ids = [step.token_id for step in steps]
    text = meta.decode(token_ids) if token_ids else ""
    if args.json:
        print(json.dumps({
            "checkpoint": str(args.checkpoint), "task": meta.task, "prompt": args.prompt, "prompt_ids": prompt_ids,
            "text": text, "token_ids": token_ids, "temperature": args.temperature, "top_k": args.top_k,
            "top_p": args.top_p, "seed": args.seed, "max_new_tokens": args.max_new_tokens,
        }, ensure_ascii=False))
    else:
        print(meta.decode(prompt_ids) + text)
    return 0


def _list(args) -> int:
    from .checkpoint import list_checkpoints

    for info in list_checkpoints(*args.roots, include_unusable=True):
        if info.error is not None:
            print(f"{info.path}  unusable: {' '.join(info.error.splitlines())}")
            continue
        figures = ", ".join(f"{k}={v:.4g}" for k, v in info.metrics.items() if isinstance(v, float))
        print(f"{info.path}  {info.task}  {info.family}  {info.tokenizer_kind or '-'}  {info.size_bytes / 1e6:.1f} MB  "
              f"{figures}")
    return 0


def _data(args) -> int:
    from .config import TASKS
    from .data_status import data_status

    rows = []
    for task in [args.task] if args.task else TASKS:
        status = data_status(task, args.data_dir if args.task else None)
        rows.append({"task": task, "state": status.state, "source": status.source, "location": str(status.location),
                     "hub_id": status.hub_id, "download_mb": status.download_mb, "reason": status.reason,
                     "expected": list(status.expected)})
    if args.json:
        print(json.dumps(rows if not args.task else rows[0]))
        return 0
    for row in rows:
        line = f"{row['task']:<15} {row['state']:<9} {row['source']:<10} {row['location']}"
        if row["state"] == "download":
            line += f"  (Start downloads {row['hub_id']}, {row['download_mb']:.1f} MB)"
        elif row["state"] == "folder":
            line += f"  (needs {', '.join(row['expected'])}: pass --data-dir or set TC_SHARED_DATA)"
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a run that failed, 2 an error reported on stderr)."""
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "data":
            return _data(args)
        if args.command == "generate":
            return _generate(args)
        return _list(args)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
