"""Requests that cannot be explained get one clear message, and the model keeps working."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SOURCE, decoded_tokens, make_tiny_captioner

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import AttnScopeError, DecodeCancelled, InputTextError
from attnscope.engine.explain import ExplainError, explain
from attnscope.engine.inference import load_inference_model
from attnscope.engine.input_limits import MAX_SOURCE_TOKENS
from attnscope.engine.interventions import AttentionEdit


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "attention"}, "unknown attribution method 'attention'; valid: saliency"),
        ({"tokens": ()}, "nothing to explain: the output is empty"),
        ({"tokens": (5, 10_000)}, "token id 10000 is not in the target vocabulary"),
        ({"steps": [99]}, "step 99 is out of range"),
        ({"steps": [-1]}, "step -1 is out of range"),
        ({"steps": []}, "no steps to explain"),
        ({"foil": 10_000}, "foil 10000 is not a target token id"),
        ({"foil": -1}, "foil -1 is not a target token id"),
        ({"ig_steps": 0}, "ig_steps must be an integer in 1..512"),
        ({"baseline": "black"}, "baseline 'black' does not apply to a translation model"),
    ],
)
def test_a_bad_request_is_refused_with_a_message(tiny_text, changes, message):
    request = {"tokens": decoded_tokens(tiny_text, SOURCE), "method": "ig", **changes}
    tokens = request.pop("tokens")
    with pytest.raises(ExplainError, match=message) as caught:
        explain(tiny_text, SOURCE, tokens, **request)
    assert isinstance(caught.value, AttnScopeError)


def test_a_bad_source_is_refused_by_the_models_own_checks(tiny_text, picture):
    tokens = decoded_tokens(tiny_text, SOURCE)
    with pytest.raises(InputTextError, match="source text is empty"):
        explain(tiny_text, "  ", tokens, method="saliency")
    with pytest.raises(InputTextError, match="give it text, not an image"):
        explain(tiny_text, picture, tokens, method="saliency")


def test_the_longest_source_is_explained_and_a_longer_one_refused(tiny_text):
    pieces = tiny_text.src_tokenizer.encode("der")
    longest = " ".join(["der"] * ((MAX_SOURCE_TOKENS - 1) // len(pieces)))
    tokens = decoded_tokens(tiny_text, SOURCE)
    result = explain(tiny_text, longest, tokens, method="ig", steps=[0], ig_steps=4)
    assert result.scores.shape == (1, len(tiny_text.source_ids(longest)))
    assert np.isfinite(result.scores).all()
    with pytest.raises(InputTextError, match="takes at most 399"):
        explain(tiny_text, longest + " der der", tokens, method="saliency")


def test_cancelling_midway_stops_and_the_next_request_runs(tiny_text):
    tokens = decoded_tokens(tiny_text, SOURCE)
    reports = []

    def cancel() -> bool:
        return len(reports) >= 1  # after the first pass

    with pytest.raises(DecodeCancelled, match="attribution cancelled after 1 of"):
        explain(
            tiny_text, SOURCE, tokens, method="occlusion", cancel=cancel, progress=_record(reports)
        )
    done = []
    explain(tiny_text, SOURCE, tokens, method="ig", ig_steps=8, progress=_record(done))
    assert done[-1][0] == done[-1][1] and [d for d, _ in done] == list(range(1, len(done) + 1))


def test_cancelling_inside_a_gradient_batch_stops_it(tiny_text):
    """A whole output's saliency is one batch: the cancel is seen between decoder steps."""
    tokens = decoded_tokens(tiny_text, SOURCE)
    asked = []

    def cancel() -> bool:
        asked.append(True)
        return len(asked) > 2  # before the batch and at decoder step 0: go on; step 1: stop

    with pytest.raises(DecodeCancelled, match="after 0 of 1 passes"):
        explain(tiny_text, SOURCE, tokens, method="saliency", cancel=cancel)


def _record(into: list):
    return lambda done, total: into.append((done, total))


def test_attention_edits_are_replayed(tiny_text):
    """With a step's attention edited, the targets are the edited decode's log-probs."""
    opened = tiny_text.open_session(SOURCE, DecodeConfig(max_length=6))
    opened.run()
    length = len(tiny_text.source_ids(SOURCE))
    weights = np.zeros((1, length), dtype=np.float32)
    weights[0, 0] = 1.0
    opened.edit_attention(1, weights)
    opened.run()
    snapshot = opened.snapshot()
    tokens = tuple(opened.session.tokens)
    edited = explain(tiny_text, SOURCE, tokens, method="saliency", edits=snapshot.interventions)
    plain = explain(tiny_text, SOURCE, tokens, method="saliency")
    shown = np.array([step.log_prob for step in snapshot.steps])
    np.testing.assert_allclose(edited.target_values, shown, atol=1e-5)
    assert not np.allclose(plain.target_values[1:], shown[1:], atol=1e-5)


def test_edits_on_a_model_without_attention_are_refused(tiny_plain):
    tokens = decoded_tokens(tiny_plain, SOURCE)
    edit = AttentionEdit(0, np.ones((1, 3), dtype=np.float32) / 3)
    with pytest.raises(ExplainError, match="has no attention"):
        explain(tiny_plain, SOURCE, tokens, method="saliency", edits=[edit])


def test_a_model_stored_in_float16_is_explained(tmp_path, picture):
    import torch

    path = make_tiny_captioner(tmp_path / "half.safetensors", storage_dtype=torch.float16)
    model = load_inference_model(path, device="cpu")
    tokens = decoded_tokens(model, picture)
    result = explain(model, picture, tokens, method="ig", ig_steps=8)
    assert np.isfinite(result.scores).all() and np.isfinite(result.pixels).all()
