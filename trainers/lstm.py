"""The LSTM language model: the baseline the transformer is compared against.

Shape legend: B batch, T sequence length, V vocabulary size, L layers, d_model embedding = hidden size.

embedding → dropout → ``torch.nn.LSTM`` (dropout between layers) → dropout → linear output layer whose
weight is the embedding's (tied), as ``RNNModel`` of PyTorch's word_language_model example
(Zaremba et al. 2014, "Recurrent Neural Network Regularization", §3-4: dropout on the non-recurrent
connections only; weight tying: Press & Wolf 2017, Inan et al. 2017). The LSTM itself is
``torch.nn.LSTM`` (Hochreiter & Schmidhuber 1997; the gate equations of its documentation): it is the
baseline, not the subject taught. Tying needs the hidden size to equal the embedding size, so one width,
``d_model``, is both.

For WikiText-2 the output layer is the transformer's own adaptive softmax
(:class:`transformer.models.AdaptiveSoftmaxHead`, Grave et al. 2017) with the tied adaptive input
(:class:`transformer.models.AdaptiveInput`, Baevski & Auli 2019) whenever the config asks for it (as the
WikiText-2 presets do). The word-level output layer is most of a training step on a CPU, so giving the
LSTM the plain 33,278-way softmax and the transformer the adaptive one would compare output layers, not
sequence models; with the same head, input tables and tying on both, the comparison isolates the part
that differs: recurrence against attention.

Hidden state does **not** carry across batches: every window of ``block_size`` tokens starts from a
zero state, in training (``LanguageModelTask`` hands out the same windows as to the transformer, random
ones for the novels), in evaluation (``evaluate_lm_split`` scores each window on its own) and in
sampling (the context window slides as the transformer's does; see ``new_cache``). PyTorch's example
carries the state across its BPTT batches (detached), which gives an LSTM unlimited context; here both
architectures see exactly the same ``block_size`` tokens, so the benchmark measures what each does
with the same context.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from torch import Tensor, nn

from transformer.models import AdaptiveInput, AdaptiveSoftmaxHead, TransformerConfig, check_adaptive_cutoffs

__all__ = ["LSTMConfig", "LSTMLanguageModel", "LSTMState", "lstm_config_like"]


@dataclass
class LSTMConfig:
    """Hyper-parameters of :class:`LSTMLanguageModel`; validated on creation (raises ValueError with a sentence)."""

    vocab_size: int  # V
    d_model: int = 128  # embedding size = hidden size of every LSTM layer (tying needs them equal)
    n_layers: int = 2  # stacked LSTM layers
    dropout: float = 0.1  # on the embeddings, between LSTM layers and on the LSTM's output (Zaremba et al. 2014)
    tie_embeddings: bool = True  # the output layer reuses the input embedding (Press & Wolf 2017)
    max_len: int = 64  # context window in tokens: the BPTT length it was trained on (sampling slides it)
    adaptive_cutoffs: list[int] | None = None  # adaptive softmax clusters (WikiText-2); None = plain softmax
    adaptive_div_value: float = 4.0  # each adaptive tail cluster is this many times narrower
    family: str = "lstm"  # always "lstm": tells checkpoints and pages which model family this is

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {self.dropout}")
        if self.family != "lstm":
            raise ValueError(f"an LSTMConfig has family 'lstm', got {self.family!r}")
        if self.adaptive_cutoffs is not None:
            self.adaptive_cutoffs = check_adaptive_cutoffs(self.adaptive_cutoffs, self.vocab_size, self.adaptive_div_value)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (for checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LSTMConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError naming them."""
        if "arch" in data:  # checkpoints saved before the field was renamed
            data = {("family" if k == "arch" else k): v for k, v in data.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown LSTMConfig fields: {unknown}")
        return cls(**data)


def lstm_config_like(config: TransformerConfig, tie_embeddings: bool = True) -> LSTMConfig:
    """The LSTM with a transformer config's vocabulary, width, depth, dropout, output layer and context.

    This is how ``family="lstm"`` turns a task's model settings into an LSTM (the heads, d_ff, positional
    encoding and norm placement have no LSTM counterpart and are ignored). The LSTM ties its embedding and
    output layer whatever the transformer does (``RNNModel --tied``); the character presets' transformers
    do not tie, which differs by V × d_model parameters (65 × 128 for Tiny Shakespeare).
    """
    return LSTMConfig(
        vocab_size=config.vocab_size,
        d_model=config.d_model,
        n_layers=config.n_layers,
        dropout=config.dropout,
        tie_embeddings=tie_embeddings,
        max_len=config.max_len,
        adaptive_cutoffs=config.adaptive_cutoffs,
        adaptive_div_value=config.adaptive_div_value,
    )


class LSTMState:
    """The incremental-decoding cache of an LSTM: its hidden and cell state after the tokens fed so far.

    ``state`` is ``(h, c)``, each (L, B, d_model), or None before the first token (a zero state);
    ``length`` counts the tokens it has read. :meth:`LSTMLanguageModel.forward` updates it in place.
    """

    def __init__(self) -> None:
        self.state: tuple[Tensor, Tensor] | None = None
        self.length = 0


class LSTMLanguageModel(nn.Module):
    """LSTM language model (PyTorch word_language_model's ``RNNModel`` with ``rnn_type="LSTM"``).

    forward(input_ids (B, T)) → logits (B, T, V) for the next token at every position (log-probabilities
    with the adaptive softmax, as ``DecoderOnlyLM``). ``hidden_states`` and ``lm_head`` follow
    ``DecoderOnlyLM``, so the trainer's loss and evaluation work on either model unchanged.
    """

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.drop = nn.Dropout(c.dropout)
        self.lstm = nn.LSTM(
            c.d_model, c.d_model, c.n_layers, batch_first=True, dropout=c.dropout if c.n_layers > 1 else 0.0
        )
        # Embeddings keep nn.Embedding's N(0, 1) initialisation: unit-variance inputs, as the transformer's
        # √d_model-scaled ones. RNNModel's uniform ±0.1 leaves the gates nearly blind to their input at first:
        # on Tiny Shakespeare (d_model 64, 2 layers, lr 3e-3, tied) it was at 2.35 nats per character after
        # 200 steps where N(0, 1) reached 2.18. The tied adaptive input starts at the head's small scale
        # (std ≈ 0.04 at d_model 256), so it is multiplied by √d_model, as the transformer multiplies it (§3.4).
        self.input_scale = 1.0
        if c.adaptive_cutoffs is None:
            self.embed = nn.Embedding(c.vocab_size, c.d_model)
            self.lm_head = nn.Linear(c.d_model, c.vocab_size)
            nn.init.zeros_(self.lm_head.bias)
            if c.tie_embeddings:
                self.lm_head.weight = self.embed.weight  # one tensor, (V, d_model)
        else:
            self.lm_head = AdaptiveSoftmaxHead(c.d_model, c.vocab_size, c.adaptive_cutoffs, c.adaptive_div_value)
            if c.tie_embeddings:
                self.embed = AdaptiveInput(self.lm_head)  # the head's cluster tables are the input tables
                self.input_scale = math.sqrt(c.d_model)
            else:
                self.embed = nn.Embedding(c.vocab_size, c.d_model)

    def new_cache(self) -> LSTMState:
        """An empty recurrent state for incremental decoding (``transformer.sampling.generate``'s protocol).

        When the text outgrows ``config.max_len``, ``generate`` slides its window (``transformer.sampling.
        context_start``), starts a new cache and feeds the window's tokens again, so the LSTM reads at most
        the context it was trained on, from a zero state.
        """
        return LSTMState()

    def hidden_states(self, input_ids: Tensor, cache: LSTMState | None = None) -> Tensor:
        """input_ids (B, T) → the top LSTM layer's outputs after dropout, (B, T, d_model).

        With ``cache`` the LSTM starts from its state and leaves its new state there. Raises ValueError
        when ids are not (B, T) or fall outside the vocabulary.
        """
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be token ids of shape (B, T), got {tuple(input_ids.shape)}")
        if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= self.config.vocab_size):
            raise ValueError(f"input_ids holds ids outside the vocabulary [0, {self.config.vocab_size})")
        x = self.drop(self.embed(input_ids) * self.input_scale)  # (B, T, d_model)
        state = cache.state if cache is not None else None
        out, new_state = self.lstm(x, state)  # (B, T, d_model); h, c (L, B, d_model)
        if cache is not None:
            cache.state = new_state
            cache.length += input_ids.shape[1]
        return self.drop(out)

    def forward(self, input_ids: Tensor, cache: LSTMState | None = None, return_attention: bool = False) -> Tensor:
        """Logits (B, T, V). ``cache`` (from :meth:`new_cache`): pass only the new tokens, the state carries on.

        Raises ValueError with ``return_attention=True``: an LSTM has no attention weights.
        """
        if return_attention:
            raise ValueError("an LSTM has no attention weights: it reads one token at a time and carries a state")
        return self.lm_head(self.hidden_states(input_ids, cache))

