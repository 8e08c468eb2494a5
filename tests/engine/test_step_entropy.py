"""Step entropy (``DecodeConfig.step_entropy``): the entropy of the model's own distribution
at every step, for every strategy, without changing a bit of the decode."""

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.base import step_entropy
from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.decoding.scripted import ScriptedModel, peaked, scripted_memory, table_probs
from attnscope.engine.session import DecodeSession

V = 9
A, B, C = 4, 5, 6

TABLE = {
    (): peaked(V, {A: 0.6, B: 0.3}),
    (A,): peaked(V, {B: 0.5, C: 0.4}),
    (B,): peaked(V, {C: 0.9}),
    (A, B): peaked(V, {EOS_ID: 0.8}),
    (A, C): peaked(V, {EOS_ID: 0.7}),
    (B, C): peaked(V, {EOS_ID: 0.9}),
}
DEFAULT = peaked(V, {EOS_ID: 0.9})


def entropy_of(prefix: tuple[int, ...]) -> float:
    """Entropy (nats) of the scripted distribution after ``prefix``, by hand."""
    probs = np.asarray(TABLE.get(prefix, DEFAULT), dtype=np.float64)
    probs = probs[probs > 0] / probs.sum()
    return float(-(probs * np.log(probs)).sum())


def model():
    return ScriptedModel(V, table_probs(TABLE, DEFAULT), num_heads=2)


def config(**changes):
    return DecodeConfig(max_length_ratio=0.0, max_length=8, **changes)


def test_the_helper_gives_log_v_for_a_uniform_row_and_ignores_zero_probabilities():
    uniform = torch.full((1, 4), 1 / 4).log()
    half = torch.tensor([[0.5, 0.5, 0.0, 0.0]]).log()  # two -inf entries
    entropy = step_entropy(torch.cat([uniform, half]))
    assert entropy.dtype == np.float32 and entropy.shape == (2,)
    assert entropy == pytest.approx([np.log(4), np.log(2)], abs=1e-6)
    assert not np.isnan(entropy).any()


@pytest.mark.parametrize("strategy", ["greedy", "sampling"])
def test_each_step_holds_the_entropy_of_the_distribution_its_token_came_from(strategy):
    session = DecodeSession(
        model(), scripted_memory([3]), config(strategy=strategy, seed=1, step_entropy=True)
    )
    session.run()
    tokens = session.tokens
    for step in session.history:
        assert step.entropy.shape == (1,)
        assert step.entropy[0] == pytest.approx(entropy_of(tokens[: step.step]), abs=1e-5)
    assert session.current().entropies.shape == (len(tokens),)


def test_the_entropy_is_the_models_own_before_a_ban():
    banned = DecodeSession(model(), scripted_memory([3]), config(min_length=3, step_entropy=True))
    banned.run()
    # eos is banned until step 3, yet the entropy counts the model's eos mass
    assert banned.history[2].entropy[0] == pytest.approx(entropy_of(banned.tokens[:2]), abs=1e-5)


def test_beam_rows_carry_their_parents_entropy_and_the_hypothesis_its_path():
    (result,) = decode(
        model(),
        scripted_memory([3]),
        config(strategy="beam", beam_size=2, n_best=2, step_entropy=True),
    )
    for step in result.steps:
        for row, parent in enumerate(step.parent_ids):
            prefix = (
                tuple(int(t) for t in result.tree.tokens[result.tree.path(int(parent))])
                if parent
                else ()
            )
            assert step.entropy[row] == pytest.approx(entropy_of(prefix), abs=1e-5)
    for hypothesis in result.hypotheses:
        expected = [entropy_of(hypothesis.tokens[:t]) for t in range(len(hypothesis.tokens))]
        assert hypothesis.entropies == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sampling"])
def test_asking_for_the_entropy_changes_no_bit_of_the_decode(strategy):
    def run(flag):
        memory = scripted_memory([3, 5])
        chosen = config(strategy=strategy, beam_size=3, seed=4, step_entropy=flag)
        return decode(model(), memory, chosen)

    plain, with_entropy = run(False), run(True)
    for a, b in zip(plain, with_entropy, strict=True):
        assert a.tokens == b.tokens
        assert a.best.token_log_probs.tobytes() == b.best.token_log_probs.tobytes()
        assert a.best.attention.tobytes() == b.best.attention.tobytes()
        assert a.tree.scores.tobytes() == b.tree.scores.tobytes()
    assert all(s.entropy is None for r in plain for s in r.steps)
    assert plain[0].best.entropies is None
    assert all(s.entropy is not None for r in with_entropy for s in r.steps)


def test_step_entropy_must_be_a_bool():
    with pytest.raises(ValueError, match="step_entropy must be a bool"):
        DecodeConfig(step_entropy="yes")


def test_the_view_record_and_the_exported_record_carry_each_steps_entropy(
    tiny_translation_checkpoint,
):
    import jsonschema

    from attnscope.engine.decode_record import load_schema, snapshot_record
    from attnscope.engine.inference import load_inference_model

    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    for strategy in ("greedy", "beam"):
        opened = model.open_session(
            "ein mann fährt .", DecodeConfig(strategy=strategy, max_length=6)
        )
        opened.run()
        snapshot = opened.snapshot()
        best = opened.session.current()
        assert [s.entropy for s in snapshot.steps] == pytest.approx(best.entropies.tolist())
        record = snapshot_record(snapshot, settings=opened.session.config)
        jsonschema.Draft202012Validator(load_schema()).validate(record)
        assert [s["entropy"] for s in record["steps"]] == pytest.approx(
            best.entropies.tolist(), abs=1e-6
        )
