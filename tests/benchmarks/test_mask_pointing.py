"""benchmarks/mask_pointing.py: the attended-vs-random mask test, end to end on 3 scenes."""

from __future__ import annotations

import json

import pytest

from attnscope.engine.resources import resource_dir
from benchmarks import mask_pointing
from benchmarks.mask_pointing import ChangeCount, wilson_interval

CHECKPOINT = resource_dir() / "checkpoints" / "shapes-attention.safetensors"


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 0.0)
    assert ChangeCount(trials=4, changed=1).to_dict()["share"] == 0.25


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="needs the bundled shapes checkpoint")
def test_three_scenes_run_and_count_both_regions(tmp_path, capsys):
    out = tmp_path / "mask.json"
    result = mask_pointing.main(
        ["-c", str(CHECKPOINT), "--scenes", "3", "--fills", "grey,noise", "--json", str(out)]
    )
    assert result["scenes"] == 3 and 0 < result["named"] <= result["shapes"]
    for fill in ("grey", "noise"):
        for region in ("attended", "random"):
            count = result["fills"][fill][region]
            assert count["trials"] == result["named"]  # one trial per named shape
            assert 0 <= count["changed"] <= count["trials"]
            assert count["ci95"][0] <= count["share"] <= count["ci95"][1]
    assert result["mean_cells_masked"] >= 1
    assert json.loads(out.read_text())["fills"] == result["fills"]
    assert "attended changed" in capsys.readouterr().out
    # same seed, same figures
    again = mask_pointing.main(["-c", str(CHECKPOINT), "--scenes", "3", "--fills", "grey,noise"])
    assert again["fills"] == result["fills"]


def test_unknown_fill_is_refused(tmp_path):
    with pytest.raises(ValueError, match="valid: grey, blur, noise"):
        mask_pointing.measure_mask_pointing(None, [], mask_pointing.MaskSettings(fills=("paint",)))
