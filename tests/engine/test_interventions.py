"""Interventions as data: validation, JSON round trips, the three row edits, the plan."""

import json

import numpy as np
import pytest

from attnscope.engine.interventions import (
    AttentionEdit,
    ForceToken,
    ImageMask,
    intervention_from_dict,
    pin,
    plan_from_interventions,
    set_weight,
    zero,
)

ROW = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.5, 0.0]], dtype=np.float32)


def through_json(item):
    return intervention_from_dict(json.loads(json.dumps(item.to_dict())))


def odd_weights(seed=0):
    """Float32 rows whose values have no short decimal form (a bit-exact round trip test)."""
    raw = np.random.default_rng(seed).random((3, 7)).astype(np.float32)
    return raw / raw.sum(axis=1, keepdims=True)


def test_each_kind_round_trips_through_json_exactly():
    mask = np.zeros((5, 11), dtype=bool)
    mask[1:4, 2:9] = True
    items = [
        ForceToken(step=3, token_id=17),
        AttentionEdit(step=2, weights=odd_weights()),
        ImageMask(mask=mask, fill="noise", seed=9),
    ]
    for item in items:
        back = through_json(item)
        assert type(back) is type(item) and back == item
    edit = through_json(items[1])
    assert edit.weights.dtype == np.float32
    assert edit.weights.tobytes() == items[1].weights.tobytes()  # bit-exact


def test_a_mask_may_also_be_written_as_rows_of_booleans():
    item = ImageMask.from_dict({"kind": "mask", "mask": [[True, False]], "fill": "blur", "seed": 0})
    assert item.mask.tolist() == [[True, False]] and item.fill == "blur"


def test_interventions_are_frozen_and_hold_read_only_copies():
    weights = ROW.copy()
    edit = AttentionEdit(step=0, weights=weights)
    weights[0, 0] = 0.9
    assert edit.weights[0, 0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="read-only"):
        edit.weights[0, 0] = 0.5
    with pytest.raises(AttributeError):
        edit.step = 4


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ([1, 2], "JSON object"),
        ({"kind": "teleport"}, "unknown intervention kind 'teleport'; valid: force, attention"),
        ({"kind": "force", "step": 1}, "lacks token_id"),
        ({"kind": "force", "step": 1, "token_id": 2, "extra": 0}, "unknown fields: extra"),
        ({"kind": "force", "step": -1, "token_id": 2}, "step must be in 0..4095"),
        ({"kind": "force", "step": 1.0, "token_id": 2}, "step must be an integer"),
        ({"kind": "force", "step": True, "token_id": 2}, "step must be an integer"),
        ({"kind": "force", "step": 1, "token_id": "7"}, "token_id must be an integer"),
        ({"kind": "force", "step": 10**6, "token_id": 2}, "step must be in"),
        ({"kind": "attention", "step": 0, "weights": [0.5, 0.5]}, "list of rows"),
        ({"kind": "attention", "step": 0, "weights": [[0.5, 0.5], [1.0]]}, r"\(heads, S\)"),
        ({"kind": "attention", "step": 0, "weights": [["a", "b"]]}, "only numbers"),
        ({"kind": "attention", "step": 0, "weights": [[1.5, -0.5]]}, "negative"),
        ({"kind": "attention", "step": 0, "weights": [[0.5, 0.6]]}, "head 0 sums to 1.1"),
        ({"kind": "attention", "step": 0, "weights": [[]]}, "shape"),
        ({"kind": "attention", "step": 0, "weights": [[1.0]] * 4097}, "at most 4096 heads"),
        ({"kind": "attention", "step": 0, "weights": [[1e309, 0.0]]}, "infinite"),
        ({"kind": "mask", "mask": [[False]], "fill": "grey", "seed": 0}, "covers no pixel"),
        ({"kind": "mask", "mask": [[1, 0]], "fill": "grey", "seed": 0}, "true/false"),
        ({"kind": "mask", "mask": [[True]], "fill": "paint", "seed": 0}, "grey, blur, noise"),
        ({"kind": "mask", "mask": [[True]], "fill": "grey", "seed": -3}, "seed must be in"),
        (
            {"kind": "mask", "mask": {"shape": [9000, 2], "bits": ""}, "fill": "grey", "seed": 0},
            "mask height must be in 1..8192",
        ),
        (
            {"kind": "mask", "mask": {"shape": [4, 4], "bits": "!!"}, "fill": "grey", "seed": 0},
            "not valid base64",
        ),
        (
            {"kind": "mask", "mask": {"shape": [4, 4], "bits": "AAAA"}, "fill": "grey", "seed": 0},
            "hold 3 bytes; a 4×4 mask needs 2",
        ),
        ({"kind": "mask", "mask": {"shape": [4, 4]}, "fill": "grey", "seed": 0}, "base64"),
    ],
)
def test_bad_dicts_are_refused_with_one_message_naming_the_field(d, message):
    with pytest.raises(ValueError, match=message):
        intervention_from_dict(d)


def test_constructing_directly_validates_too():
    with pytest.raises(ValueError, match="NaN"):
        AttentionEdit(step=0, weights=np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="boolean"):
        ImageMask(mask=np.ones((2, 2), dtype=np.uint8))


def test_pin_puts_all_the_mass_on_one_position_in_every_head():
    pinned = pin(ROW, 2)
    assert pinned.dtype == np.float32
    assert pinned.tolist() == [[0, 0, 1, 0], [0, 0, 1, 0]]
    with pytest.raises(ValueError, match=r"source index must be in 0\.\.3"):
        pin(ROW, 4)


def test_zero_removes_a_position_and_renormalises():
    zeroed = zero(ROW, 3)
    np.testing.assert_allclose(zeroed[0], [1 / 6, 2 / 6, 3 / 6, 0], rtol=1e-6)
    np.testing.assert_array_equal(zeroed[1], ROW[1])  # had nothing there
    np.testing.assert_allclose(zeroed.sum(axis=1), 1, rtol=1e-6)


def test_zero_refuses_to_remove_the_last_weight():
    with pytest.raises(ValueError, match="head 1 attends only to position 2"):
        zero(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]), 2)


def test_set_weight_drags_one_weight_and_rescales_the_others():
    dragged = set_weight(ROW, 0, 0.6, head=0)
    np.testing.assert_allclose(dragged[0], [0.6, 0.4 * 2 / 9, 0.4 * 3 / 9, 0.4 * 4 / 9], rtol=1e-6)
    np.testing.assert_array_equal(dragged[1], ROW[1])  # another head untouched
    every = set_weight(ROW, 3, 0.0)
    np.testing.assert_allclose(every, zero(ROW, 3), rtol=1e-6)


def test_set_weight_on_a_pinned_row_shares_the_rest_evenly():
    dragged = set_weight(pin(ROW, 1), 1, 0.7)
    np.testing.assert_allclose(dragged[0], [0.1, 0.7, 0.1, 0.1], rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1.5), "between 0 and 1"),
        ((0, float("nan")), "between 0 and 1"),
        ((0, "0.5"), "must be a number"),
        ((0, 0.5, 2), "head must be in 0..1"),
        ((9, 0.5), "source index"),
    ],
)
def test_set_weight_refuses_bad_values(args, message):
    with pytest.raises(ValueError, match=message):
        set_weight(ROW, *args)


def test_a_single_position_source_keeps_its_weight_of_one():
    assert set_weight(np.ones((1, 1)), 0, 1.0).tolist() == [[1.0]]
    with pytest.raises(ValueError, match="one position"):
        set_weight(np.ones((1, 1)), 0, 0.5)


def test_the_plan_puts_each_intervention_at_its_step():
    edit = AttentionEdit(step=3, weights=ROW)
    plan = plan_from_interventions([ForceToken(1, 7), edit])
    assert plan[:3] == (None, 7, None) and plan[3] is edit and len(plan) == 4
    assert plan_from_interventions([]) == ()
    with pytest.raises(ValueError, match="two interventions on step 1"):
        plan_from_interventions([ForceToken(1, 7), ForceToken(1, 8)])
    with pytest.raises(ValueError, match="forced tokens and attention edits"):
        plan_from_interventions([ImageMask(mask=np.ones((2, 2), dtype=bool))])
