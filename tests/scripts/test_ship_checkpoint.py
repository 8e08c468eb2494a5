"""scripts/ship_checkpoint.py: fp16 copy with examples, scores and recommended decoding."""

import pytest
from script_support import load_script

from attnscope.engine.checkpoint import load_checkpoint, read_checkpoint_info


@pytest.fixture(scope="module")
def shipper():
    return load_script("ship_checkpoint")


def test_ship_stores_scores_and_recommended_decoding(
    shipper, tiny_translation_checkpoint, tmp_path
):
    examples = tmp_path / "examples.txt"
    examples.write_text("Ein Hund.\n\nEine Katze.\n", encoding="utf-8")
    out = tmp_path / "shipped.safetensors"
    argv = [str(tiny_translation_checkpoint), str(out), "--examples", str(examples)]
    argv += ["--score", "test_bleu=36.76", "--note", "demo"]
    argv += ["--recommend", "strategy=beam", "--recommend", "beam_size=5"]
    argv += ["--recommend", "length_penalty=gnmt", "--recommend", "alpha=1.5"]
    assert shipper.main(argv) == 0
    info = load_checkpoint(out).info
    assert info["examples"] == ["Ein Hund.", "Eine Katze."]
    assert info["scores"]["test_bleu"] == 36.76 and info["note"] == "demo"
    assert info["recommended_decoding"] == {
        "strategy": "beam",
        "beam_size": 5,
        "length_penalty": "gnmt",
        "alpha": 1.5,
    }
    assert read_checkpoint_info(out)["storage_dtype"] == "float16"


@pytest.mark.parametrize("bad", ["beam_width=5", "strategy=nonsense"])
def test_a_recommendation_decoding_cannot_use_is_refused(
    shipper, tiny_translation_checkpoint, tmp_path, bad
):
    out = tmp_path / "shipped.safetensors"
    with pytest.raises(SystemExit, match="--recommend"):
        shipper.main([str(tiny_translation_checkpoint), str(out), "--recommend", bad])
    assert not out.exists()
