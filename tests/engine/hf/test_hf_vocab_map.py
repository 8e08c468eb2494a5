"""AttnScope's fixed special ids over a model's own numbering: a permutation."""

from __future__ import annotations

import pytest
import torch

from attnscope.engine.decoding.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from attnscope.engine.hf.vocab_map import HfVocabMap


@pytest.mark.parametrize(
    ("specials", "expected"),
    [
        # Marian: eos 0, unk 1, pad = decoder start = last; pad takes a free slot
        ({"bos": 9, "eos": 0, "unk": 1, "pad": 9}, {BOS_ID: 9, EOS_ID: 0, UNK_ID: 1}),
        # BART: <s> 0, pad 1, eos 2, unk 3
        ({"bos": 0, "eos": 2, "unk": 3, "pad": 1}, {BOS_ID: 0, EOS_ID: 2, UNK_ID: 3, PAD_ID: 1}),
        # T5: no bos (its start is pad 0), eos 1, unk 2
        ({"bos": 0, "eos": 1, "unk": 2, "pad": 0}, {BOS_ID: 0, EOS_ID: 1, UNK_ID: 2}),
        # no unk and no pad
        ({"bos": 5, "eos": 6, "unk": None, "pad": None}, {BOS_ID: 5, EOS_ID: 6}),
    ],
    ids=["marian", "bart", "t5", "bare"],
)
def test_specials_land_on_attnscope_ids_and_every_id_keeps_one_slot(specials, expected):
    vocab = HfVocabMap.build(10, **specials)
    assert sorted(vocab.to_hf.tolist()) == list(range(10))
    for ours, theirs in expected.items():
        assert vocab.to_hf[ours] == theirs
    assert vocab.from_hf[vocab.to_hf].equal(torch.arange(10))
    assert vocab.our_ids(vocab.model_ids([4, 7, EOS_ID])) == [4, 7, EOS_ID]
    assert vocab.model_ids([]) == []


def test_a_vocabulary_too_small_for_the_specials():
    with pytest.raises(ValueError, match="too small"):
        HfVocabMap.build(3, bos=0, eos=1, unk=None, pad=None)
