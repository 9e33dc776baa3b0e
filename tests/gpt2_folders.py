"""Tiny GPT-2-family folders made with ``transformers`` (the reference no one here wrote), for the parity tests.

Each folder is what ``save_pretrained(safe_serialization=True)`` writes, beside a byte-level BPE
``tokenizer.json`` trained here; nothing touches the network.
"""

from __future__ import annotations

from pathlib import Path

import torch

TEXT = (
    "The quick brown fox jumps over the lazy dog. A transformer reads every token at once, "
    "and attention decides which tokens matter. 注意力 is attention; emoji 🙂 are bytes too.\n"
) * 20

# (name, GPT2Config options, seed): several sizes, n_inner, ε, activations, tied and untied output layers
CONFIGS = [
    ("small", dict(n_embd=32, n_head=4, n_layer=2, n_positions=64), 0),
    ("odd", dict(n_embd=48, n_head=3, n_layer=3, n_positions=40, n_inner=80, layer_norm_epsilon=1e-3), 1),
    ("untied", dict(n_embd=24, n_head=2, n_layer=1, n_positions=32, activation_function="gelu",
                    tie_word_embeddings=False), 2),
]


def train_tokenizer(path: Path, vocab_size: int = 320):
    """A byte-level BPE tokenizer as GPT-2's (ByteLevel pre-tokenizer and decoder, <|endoftext|>)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator([TEXT], trainer)
    tokenizer.save(str(path))
    return tokenizer


def make_gpt2_folder(folder: Path, options: dict, seed: int, tokenizer_file: Path):
    """Save a random GPT2LMHeadModel with non-trivial layer norms and biases; returns the (eager) HF model."""
    from tokenizers import Tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab = Tokenizer.from_file(str(tokenizer_file)).get_vocab_size()
    # vocab padded, as fine-tunes do; no end-of-text id, so that HF's generate never stops early
    config = GPT2Config(vocab_size=vocab + 3, bos_token_id=None, eos_token_id=None, **options)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln_" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))  # γ away from 1
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))  # β and every linear bias away from 0
            else:
                p.copy_(0.25 * torch.randn_like(p))  # sharp attention, not near-uniform
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    (folder / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    model.set_attn_implementation("eager")  # output_attentions needs the eager attention
    return model.eval()
