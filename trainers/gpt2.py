"""GPT-2-family Hugging Face folders in the project's own :class:`~transformer.models.DecoderOnlyLM`.

A folder as the Hugging Face Hub serves ``gpt2``, ``distilgpt2``, ``gpt2-medium`` … (or any fine-tune of the same
shape) holds::

    config.json         "model_type": "gpt2", n_embd, n_head, n_layer, n_positions, vocab_size, …
    model.safetensors   the weights (names ``wte.weight``, ``h.0.attn.c_attn.weight``, …, optionally
                        prefixed ``transformer.`` as ``GPT2LMHeadModel.save_pretrained`` writes them)
    tokenizer.json      the byte-level BPE tokenizer (``tokenizers.Tokenizer``)

GPT-2 (Radford et al. 2019 §2.3) is the decoder-only model of GPT-1 with the layer norm moved to the input
of each sub-block (pre-norm), a final layer norm, learned positions, GELU in its tanh approximation, biases
everywhere but the output layer, which is tied to the token embedding, and no √d_model scaling of the
embeddings. Each of these is an option of :class:`~transformer.models.TransformerConfig`
(:func:`gpt2_config`). The weights need two changes of layout (:func:`gpt2_state_dict`):

- GPT-2 stores its linear layers as ``Conv1D``: y = x W + b with W of shape (in, out), the transpose of
  ``nn.Linear``'s (out, in);
- its attention has one fused projection ``c_attn`` of shape (d_model, 3·d_model), whose columns are
  [W_Q | W_K | W_V]; the heads are then cut from each d_model-wide part exactly as our ``split_heads`` cuts
  them (head h = columns h·d_k … (h+1)·d_k − 1).

Nothing here imports ``transformers``: the config is JSON, the weights safetensors, the tokenizer
``tokenizers``. Config fields and every tensor's shape (read from the safetensors header) are checked
before the model is built; the model is built on the ``meta`` device and receives the file's tensors, so
no memory is spent on weights that would be thrown away.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor

from transformer.models import DecoderOnlyLM, TransformerConfig

from .checkpoint import CheckpointError, CheckpointMeta, read_config_json

__all__ = [
    "GPT2_FILES",
    "GPT2_TASK",
    "HUB_MODELS",
    "download_gpt2",
    "find_gpt2_folders",
    "gpt2_from_hub_cache",
    "models_dir",
    "resolve_gpt2",
    "gpt2_config",
    "gpt2_state_dict",
    "is_gpt2_folder",
    "load_gpt2",
    "read_hf_config",
]

GPT2_TASK = "gpt2"  # CheckpointMeta.task of a loaded GPT-2-family folder
GPT2_FILES = ("config.json", "model.safetensors", "tokenizer.json")
# Hugging Face's names for the feed-forward activation → ours. "gelu_new" is GPT-2's tanh approximation.
_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"}


# The GPT-2-family models the app offers to fetch (Hub id → download size of the three files, MB)
HUB_MODELS = {"distilgpt2": 357, "gpt2": 551}
ENV_MODELS_DIR = "TC_MODELS_DIR"


def models_dir() -> Path:
    """The folder searched for GPT-2 folders (one per model, e.g. ``models/distilgpt2``): env ``TC_MODELS_DIR``,
    else ``models/`` beside the app (not committed: the weights are hundreds of MB)."""
    env = os.environ.get(ENV_MODELS_DIR)
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "models"


def find_gpt2_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """Every GPT-2 folder directly under ``root`` (default :func:`models_dir`) holding all of ``GPT2_FILES``."""
    root = Path(root) if root is not None else models_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and all((p / f).is_file() for f in GPT2_FILES) and is_gpt2_folder(p))


def gpt2_from_hub_cache(repo_id: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The Hugging Face cache's snapshot folder of ``repo_id`` when it holds all of ``GPT2_FILES``, else None.

    Reads the local cache only (``snapshot_download(local_files_only=True)``): never touches the network.
    ``cache_dir``: another cache than huggingface_hub's default (``HF_HUB_CACHE``).
    """
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=list(GPT2_FILES), local_files_only=True,
                                        cache_dir=cache_dir))
    except Exception:  # LocalEntryNotFoundError and friends: not in the cache
        return None
    return folder if all((folder / f).is_file() for f in GPT2_FILES) else None


def missing_files_sentence(name: str = "distilgpt2") -> str:
    """The one line that says where GPT-2 files go when they cannot be fetched."""
    return (f"put {', '.join(GPT2_FILES)} of {name} (from https://huggingface.co/{name}) into the folder "
            f"{models_dir() / name}, or name any folder holding them")


def resolve_gpt2(name_or_path: str | os.PathLike) -> Path:
    """A folder given by path, or a Hub id (``distilgpt2``, ``gpt2``, …) found in ``models/`` or the Hub cache.

    Raises CheckpointError with one line naming the files and the folder to put them in when neither has it.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    local = models_dir() / name
    if local.is_dir():
        return local
    cached = gpt2_from_hub_cache(name)  # an invalid Hub id is simply not in the cache
    if cached is not None:
        return cached
    raise CheckpointError(f"{name} is neither a folder nor in the Hugging Face cache: {missing_files_sentence(name)}")


def download_gpt2(repo_id: str, tqdm_class=None) -> Path:
    """Fetch ``GPT2_FILES`` of ``repo_id`` from the Hugging Face Hub into its cache; returns the snapshot folder.

    Call :func:`trainers.hub.hub_unavailable_reason` first: offline, this fails only after the Hub's retries.
    Raises whatever ``huggingface_hub`` raises (OSError subclasses for network and missing-file errors).
    """
    from huggingface_hub import snapshot_download

    kwargs = {"tqdm_class": tqdm_class} if tqdm_class is not None else {}
    return Path(snapshot_download(repo_id, allow_patterns=list(GPT2_FILES), **kwargs))


def read_hf_config(folder: str | os.PathLike) -> dict:
    """The ``config.json`` of a Hugging Face folder as a dict. Raises CheckpointError when missing or not JSON."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{Path(folder)} has no config.json")
    data = read_config_json(path)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a JSON object")
    return data


def is_gpt2_folder(folder: str | os.PathLike) -> bool:
    """True when ``folder/config.json`` says ``"model_type": "gpt2"`` (the other files are checked on loading)."""
    try:
        return read_hf_config(folder).get("model_type") == "gpt2"
    except CheckpointError:
        return False


def _whole(hf: dict, name: str, default=None) -> int:
    value = hf.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"config.json: {name} must be a positive whole number, got {value!r}")
    return value


def gpt2_config(hf: dict) -> TransformerConfig:
    """A GPT-2 ``config.json`` (as a dict) → the equivalent :class:`TransformerConfig`.

    n_embd → d_model, n_head → n_heads, n_layer → n_layers, n_inner (default 4·n_embd) → d_ff, n_positions →
    max_len (learned positions), layer_norm_epsilon → layer_norm_eps, activation_function gelu_new → "gelu_tanh".
    Raises ValueError naming the field for a model type other than gpt2, a missing or non-positive size,
    n_embd not divisible by n_head, an activation we lack, or options our core does not compute
    (cross-attention, ``scale_attn_by_inverse_layer_idx``, unscaled attention).
    """
    if hf.get("model_type") != "gpt2":
        raise ValueError(f"config.json: model_type is {hf.get('model_type')!r}, not 'gpt2'")
    d_model, n_heads = _whole(hf, "n_embd"), _whole(hf, "n_head")
    if d_model % n_heads:
        raise ValueError(f"config.json: n_embd={d_model} is not divisible by n_head={n_heads}")
    activation = hf.get("activation_function", "gelu_new")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"config.json: activation_function {activation!r} is not one of {sorted(_ACTIVATIONS)}")
    for name, supported in (("add_cross_attention", False), ("scale_attn_by_inverse_layer_idx", False),
                            ("scale_attn_weights", True)):
        if bool(hf.get(name, supported)) != supported:
            raise ValueError(f"config.json: {name}={hf[name]!r} is not supported (our core computes {name}={supported})")
    eps = hf.get("layer_norm_epsilon", 1e-5)
    if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 < eps < 1:
        raise ValueError(f"config.json: layer_norm_epsilon must be a small positive number, got {eps!r}")
    n_inner = hf.get("n_inner")
    return TransformerConfig(
        vocab_size=_whole(hf, "vocab_size"),
        d_model=d_model,
        n_heads=n_heads,
        n_layers=_whole(hf, "n_layer"),
        d_ff=4 * d_model if n_inner is None else _whole(hf, "n_inner"),
        dropout=0.0,  # evaluation only: GPT-2's dropouts are off at inference
        max_len=_whole(hf, "n_positions", 1024),
        positional="learned",
        norm_first=True,
        activation=_ACTIVATIONS[activation],
        tie_embeddings=bool(hf.get("tie_word_embeddings", True)),
        causal=True,
        layer_norm_eps=float(eps),
        scale_embeddings=False,
        lm_head_bias=False,
    )


def _expected_shapes(c: TransformerConfig) -> dict[str, tuple[int, ...]]:
    """GPT-2's tensor names (without prefix) and shapes for config ``c``; Conv1D weights are (in, out)."""
    d, f = c.d_model, c.d_ff
    shapes = {"wte.weight": (c.vocab_size, d), "wpe.weight": (c.max_len, d), "ln_f.weight": (d,), "ln_f.bias": (d,)}
    for i in range(c.n_layers):
        h = f"h.{i}."
        shapes |= {
            h + "ln_1.weight": (d,), h + "ln_1.bias": (d,), h + "ln_2.weight": (d,), h + "ln_2.bias": (d,),
            h + "attn.c_attn.weight": (d, 3 * d), h + "attn.c_attn.bias": (3 * d,),
            h + "attn.c_proj.weight": (d, d), h + "attn.c_proj.bias": (d,),
            h + "mlp.c_fc.weight": (d, f), h + "mlp.c_fc.bias": (f,),
            h + "mlp.c_proj.weight": (f, d), h + "mlp.c_proj.bias": (d,),
        }
    return shapes


def _is_mask_buffer(name: str) -> bool:
    """Older GPT-2 files carry the causal mask as tensors ``h.N.attn.bias`` / ``masked_bias``: not weights."""
    return name.endswith((".attn.bias", ".attn.masked_bias"))  # not c_attn.bias, a weight


def check_gpt2_tensors(weights: Path, config: TransformerConfig) -> dict[str, str]:
    """Compare the safetensors header of ``weights`` with the shapes ``config`` implies, before loading anything.

    Returns a map from GPT-2's unprefixed tensor name to the name in the file (which may carry the
    ``transformer.`` prefix; ``lm_head.weight`` is included when the file has it).
    Raises CheckpointError naming the first missing tensor or wrong shape.
    """
    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{weights} is not a readable safetensors file: {exc}") from None
    names = {}
    for name in stored:
        if not _is_mask_buffer(name):
            names[name.removeprefix("transformer.")] = name
    for name, shape in _expected_shapes(config).items():
        if name not in names:
            raise CheckpointError(f"{weights} lacks the tensor {name!r} that config.json's GPT-2 needs")
        if stored[names[name]] != shape:
            raise CheckpointError(
                f"{weights}: tensor {names[name]!r} has shape {list(stored[names[name]])}, but config.json "
                f"describes one of shape {list(shape)}: the weights and the config do not match"
            )
    if "lm_head.weight" in names and stored[names["lm_head.weight"]] != (config.vocab_size, config.d_model):
        raise CheckpointError(f"{weights}: lm_head.weight has shape {list(stored[names['lm_head.weight']])}, "
                              f"expected {[config.vocab_size, config.d_model]}")
    if not config.tie_embeddings and "lm_head.weight" not in names:
        raise CheckpointError(f"{weights} lacks lm_head.weight, which an untied GPT-2 (tie_word_embeddings false) needs")
    return names


def gpt2_state_dict(gpt2: dict[str, Tensor], config: TransformerConfig) -> dict[str, Tensor]:
    """GPT-2's tensors (unprefixed names) → a state dict of our :class:`DecoderOnlyLM`.

    The readable core of the loader: Conv1D weights (in, out) are transposed to ``nn.Linear``'s (out, in), and
    the fused ``c_attn`` (d_model, 3·d_model) = [W_Q | W_K | W_V] is cut into its three column blocks.
    """
    d = config.d_model
    ours = {
        "embed.token.weight": gpt2["wte.weight"],  # (V, d_model); no × √d_model in GPT-2 (scale_embeddings False)
        "embed.position.embedding.weight": gpt2["wpe.weight"],  # (n_positions, d_model), learned positions
        "final_norm.gamma": gpt2["ln_f.weight"],
        "final_norm.beta": gpt2["ln_f.bias"],
        # tied (Press & Wolf 2017): the output layer is the token embedding, unless the file has its own
        "lm_head.weight": gpt2.get("lm_head.weight", gpt2["wte.weight"]),
    }
    for i in range(config.n_layers):
        g, o = f"h.{i}.", f"blocks.{i}."
        w_qkv, b_qkv = gpt2[g + "attn.c_attn.weight"], gpt2[g + "attn.c_attn.bias"]  # (d, 3d), (3d,)
        for j, name in enumerate(("w_q", "w_k", "w_v")):
            ours[o + f"self_attn.{name}.weight"] = w_qkv[:, j * d : (j + 1) * d].t().contiguous()  # (d_out, d_in)
            ours[o + f"self_attn.{name}.bias"] = b_qkv[j * d : (j + 1) * d]
        ours[o + "self_attn.w_o.weight"] = gpt2[g + "attn.c_proj.weight"].t().contiguous()
        ours[o + "self_attn.w_o.bias"] = gpt2[g + "attn.c_proj.bias"]
        ours[o + "residual1.norm.gamma"] = gpt2[g + "ln_1.weight"]  # pre-norm before attention
        ours[o + "residual1.norm.beta"] = gpt2[g + "ln_1.bias"]
        ours[o + "residual3.norm.gamma"] = gpt2[g + "ln_2.weight"]  # pre-norm before the MLP
        ours[o + "residual3.norm.beta"] = gpt2[g + "ln_2.bias"]
        ours[o + "ff.linear1.weight"] = gpt2[g + "mlp.c_fc.weight"].t().contiguous()  # (d_ff, d_model)
        ours[o + "ff.linear1.bias"] = gpt2[g + "mlp.c_fc.bias"]
        ours[o + "ff.linear2.weight"] = gpt2[g + "mlp.c_proj.weight"].t().contiguous()  # (d_model, d_ff)
        ours[o + "ff.linear2.bias"] = gpt2[g + "mlp.c_proj.bias"]
    return ours


def load_gpt2(folder: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[DecoderOnlyLM, CheckpointMeta]:
    """Load a GPT-2-family folder into our :class:`DecoderOnlyLM`: returns ``(model in eval mode, meta)``.

    ``meta.task`` is ``"gpt2"``; ``meta.encode`` / ``decode`` use the folder's ``tokenizer.json`` with no
    tokens added. Weights are cast to float32. Raises CheckpointError with a sentence for a missing file,
    a config field we cannot honour, a tensor of the wrong shape or a tokenizer larger than the vocabulary.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder")
    missing = [name for name in GPT2_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder} lacks {', '.join(missing)}: a GPT-2 folder needs {', '.join(GPT2_FILES)}")
    hf = read_hf_config(folder)
    try:
        config = gpt2_config(hf)
    except ValueError as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises its own exception type
        raise CheckpointError(f"{folder / 'tokenizer.json'} is not a tokenizers file: {exc}") from None
    if tokenizer.get_vocab_size() > config.vocab_size:
        raise CheckpointError(f"{folder / 'tokenizer.json'} has {tokenizer.get_vocab_size()} tokens, more than the "
                              f"model's vocab_size {config.vocab_size}: the tokenizer belongs to another model")
    weights = folder / "model.safetensors"
    names = check_gpt2_tensors(weights, config)  # before anything is allocated
    with safe_open(str(weights), framework="pt") as f:
        gpt2 = {name: f.get_tensor(stored).float() for name, stored in names.items()}
    with torch.device("meta"):
        model = DecoderOnlyLM(config)
    model.load_state_dict(gpt2_state_dict(gpt2, config), strict=True, assign=True)
    if config.tie_embeddings:  # assign=True gave the two names two Parameter objects: tie them again
        model.lm_head.weight = model.embed.token.weight
    model.to(device).eval()
    eos = tokenizer.token_to_id("<|endoftext|>")
    meta = CheckpointMeta(
        path=folder, task=GPT2_TASK, tokenizer_kind="bpe", model_config=config,
        task_info={"model_type": "gpt2", "name_or_path": hf.get("_name_or_path") or folder.name, "eos_id": eos,
                   "n_positions": config.max_len},
        tokenizer=tokenizer,
        extra={"source": "huggingface"},
    )
    return model, meta
