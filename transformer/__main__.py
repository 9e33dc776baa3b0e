"""``python -m transformer``: build a small random encoder-decoder and print every stage's shape.

Reproduces seed 000's ``python model.py`` check: a batch of 2 sequences of 5 tokens over a vocabulary
of 10 ends as logits of shape torch.Size([2, 5, 10]).
"""

from __future__ import annotations

import torch

from .models import Seq2SeqTransformer, TransformerConfig


def main() -> None:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=10, d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.1, layout="encoder-decoder"
    )
    model = Seq2SeqTransformer(config).eval()
    print("Initialized model with random weights.")
    print(f"config: d_model={config.d_model}, n_heads={config.n_heads}, d_k={config.d_k}, "
          f"d_ff={config.d_ff}, layers={config.n_layers}+{config.n_layers}, vocab={config.vocab_size}")
    src = torch.randint(0, config.vocab_size, (2, 5))
    tgt = torch.randint(0, config.vocab_size, (2, 5))
    for name, shape in model.trace_shapes(src, tgt):
        print(f"  {name:<40} {tuple(shape)}")
    logits = model(src, tgt)
    print()
    print(f"Final output size: {logits.shape}")


if __name__ == "__main__":
    main()
