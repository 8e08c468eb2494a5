"""``HfVocabMap``: AttnScope's fixed special ids over a Hugging Face vocabulary.

The decode loop starts every hypothesis from bos = 2 and ends it on eos = 3, and bans
unk = 1 on request (docs/CONTRACTS.md: pad 0, unk 1, bos 2, eos 3). A Hugging Face
model numbers its tokens its own way (Marian: eos 0, unk 1, pad = decoder start = the
last id). The map is a permutation of the model's ids: AttnScope id ``i`` is the
model's id ``to_hf[i]``, with

- 2 <- the model's bos token (or its decoder start token when it has no bos),
- 3 <- eos, 1 <- unk, 0 <- pad, each when the model has one not already placed,

and every other model id in its own order in the free slots. Log-probs are gathered
through it once per step (``log_probs_hf[:, to_hf]``), so every token keeps its
probability and the strategies see a proper distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from attnscope.engine.decoding.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID


class HfVocabMap:
    """Permutation between AttnScope ids and a model's ids (see the module docstring).

    to_hf:   (V,) long, AttnScope id -> model id
    from_hf: (V,) long, model id -> AttnScope id
    """

    def __init__(self, to_hf: Tensor) -> None:
        self.to_hf = to_hf
        self.from_hf = torch.empty_like(to_hf)
        self.from_hf[to_hf] = torch.arange(to_hf.numel(), device=to_hf.device)

    @classmethod
    def build(
        cls, size: int, *, bos: int | None, eos: int, unk: int | None, pad: int | None
    ) -> HfVocabMap:
        """The map for a vocabulary of ``size`` ids with these special ids (None: absent)."""
        if size <= max(BOS_ID, EOS_ID, UNK_ID, PAD_ID):
            raise ValueError(f"a vocabulary of {size} ids is too small for the special tokens")
        slots: dict[int, int] = {}  # AttnScope id -> model id
        for ours, theirs in ((BOS_ID, bos), (EOS_ID, eos), (UNK_ID, unk), (PAD_ID, pad)):
            if theirs is not None and 0 <= theirs < size and theirs not in slots.values():
                slots[ours] = theirs
        placed = set(slots.values())
        rest = iter(i for i in range(size) if i not in placed)
        to_hf = [slots[i] if i in slots else next(rest) for i in range(size)]
        return cls(torch.tensor(to_hf, dtype=torch.long))

    @property
    def size(self) -> int:
        return self.to_hf.numel()

    def to(self, device: torch.device | str) -> HfVocabMap:
        return HfVocabMap(self.to_hf.to(device))

    def model_ids(self, ids: Sequence[int]) -> list[int]:
        """AttnScope ids -> the model's ids (to detokenize with the folder's tokenizer)."""
        return self.to_hf[torch.as_tensor(list(ids), dtype=torch.long)].tolist()

    def our_ids(self, ids: Sequence[int]) -> list[int]:
        """The model's ids -> AttnScope ids."""
        return self.from_hf[torch.as_tensor(list(ids), dtype=torch.long)].tolist()
