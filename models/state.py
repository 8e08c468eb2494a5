"""The two objects every decoder step passes around: encoder memory and decoder state.

Both can be reordered by an index tensor, which is how beam search follows
its hypotheses (``state``) and drops finished sentences (``memory``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

import torch
from torch import Tensor

ROW_RUNS = "row runs"  # EncoderMemory.derived key: rows come in runs of this many copies


def _whole_runs(index: Tensor, runs: int) -> bool:
    """Each run of ``runs`` rows that ``index`` picks comes from one run of this memory
    (beam search follows its hypotheses within an input, and drops whole inputs): the
    picked rows come in runs of ``runs`` copies too."""
    if index.numel() == 0 or index.numel() % runs:
        return False
    source_runs = index.reshape(-1, runs) // runs  # (picked runs, runs)
    return bool((source_runs == source_runs[:, :1]).all())


def _select(value: Tensor | tuple | None, index: Tensor) -> Tensor | tuple | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(_select(v, index) for v in value)
    return value.index_select(0, index)


@dataclass(frozen=True)
class EncoderMemory:
    """What the encoder hands to the decoder, batch-first.

    values: (B, S, H) one feature vector per source position (token or grid cell)
    mask:   (B, S) bool, True at real positions, False at padding
    final:  (B, H_enc) summary of the whole source (the decoder bridges it to its size)
    keys:   attention-specific projection of ``values`` computed once per source
            (e.g. U·h for additive attention); None until the decoder fills it
    grid:   (h, w) when positions are image cells, else None
    key_source: (B, S, K) what the attention keys are computed from when it is not
            ``values`` (an image encoder's ``local_keys``), else None
    final_states: an RNN text encoder's last hidden (and LSTM cell) state of every layer
            and direction, each (B, layers·dirs, H) (see ``encoders.RecurrentStack``);
            decoders started from them read it (``DecoderConfig.init_from``), else None
    """

    values: Tensor
    mask: Tensor
    final: Tensor
    keys: Tensor | None = None
    grid: tuple[int, int] | None = None
    key_source: Tensor | None = None
    final_states: tuple[Tensor, ...] | None = None

    @property
    def lengths(self) -> Tensor:
        """(B,) number of real positions per row."""
        return self.mask.sum(dim=1)

    @cached_property
    def padding(self) -> Tensor | None:
        """(B, 1, S) bool, True at padding; None when no row is padded (a batch of one).

        Worked out once per memory, not at every decoder step (``index_select``
        makes a new memory, which works it out again); the fast step masks with it.
        """
        if bool(self.mask.all()):
            return None
        return ~self.mask.unsqueeze(1)

    @cached_property
    def derived(self) -> dict:
        """Per-memory values a module works out once and reuses at every step (its own keys;
        the fast step keeps an additive attention's real positions here). ``ROW_RUNS``:
        the rows come in runs of that many copies of one row (a beam's k rows of an
        input); ``index_select`` and ``repeat_interleave`` carry it, so it is never
        looked for again in their copies."""
        return {}

    def index_select(self, index: Tensor) -> EncoderMemory:
        """Rows picked (and possibly repeated) by ``index`` (N,)."""
        picked = self._pick(index)
        runs = self.derived.get(ROW_RUNS)
        if runs is not None and _whole_runs(index, runs):
            picked.derived[ROW_RUNS] = runs
        return picked

    def _pick(self, index: Tensor) -> EncoderMemory:
        return replace(
            self,
            values=self.values.index_select(0, index),
            mask=self.mask.index_select(0, index),
            final=self.final.index_select(0, index),
            keys=_select(self.keys, index),
            key_source=_select(self.key_source, index),
            final_states=_select(self.final_states, index),
        )

    def repeat_interleave(self, times: int) -> EncoderMemory:
        """Each row repeated ``times`` times in a row: (B, ...) -> (B·times, ...)."""
        index = torch.arange(self.values.size(0), device=self.values.device)
        repeated = self._pick(index.repeat_interleave(times))
        if times > 1:  # exact copies: runs of ``times`` (of the runs there were)
            repeated.derived[ROW_RUNS] = times * self.derived.get(ROW_RUNS, 1)
        return repeated


@dataclass(frozen=True)
class DecoderState:
    """Explicit recurrent state of one decoder step, batch-first.

    hidden:     (layers, B, H) RNN hidden state
    cell:       (layers, B, H) LSTM cell state, None for GRU
    feed:       (B, H) previous attentional vector (input feeding), or None
    alignment:  (B, heads, S) previous step's attention weights, or None
    cumulative: (B, heads, S) sum of all previous attention weights (coverage), or None
    """

    hidden: Tensor
    cell: Tensor | None = None
    feed: Tensor | None = None
    alignment: Tensor | None = None
    cumulative: Tensor | None = None

    def index_select(self, index: Tensor) -> DecoderState:
        """Reorder / repeat the batch dimension by ``index`` (N,)."""
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            dim = 1 if f.name in ("hidden", "cell") else 0
            changes[f.name] = value.index_select(dim, index)
        return replace(self, **changes)

    @property
    def batch_size(self) -> int:
        return self.hidden.size(1)
