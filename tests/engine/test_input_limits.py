"""Each model states its input limit and the engine checks it before encoding: a line (or a
picture) over the limit is reported and left empty, and the rest of the file is decoded."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from attnscope.engine.checkpoint import read_checkpoint_info
from attnscope.engine.cli import main
from attnscope.engine.images import MAX_IMAGE_PIXELS
from attnscope.engine.input_limits import MAX_SOURCE_TOKENS, max_source_positions
from attnscope.engine.resources import checkpoints, example_images
from attnscope.models.config import ModelConfig, TextEncoderConfig

BUNDLED = checkpoints()
GOOD = {
    "de": ["Ein Hund rennt über die Wiese.", "Zwei Kinder spielen im Sand."],
    "zh": ["我爱你。", "今天天气很好。"],
}


def test_a_convolutional_encoder_takes_only_its_positions():
    vocab = {"src_vocab": 10, "tgt_vocab": 10}
    cnn = ModelConfig(**vocab, text_encoder=TextEncoderConfig(kind="cnn", max_positions=64))
    assert max_source_positions(cnn) == 64
    assert max_source_positions(ModelConfig(**vocab)) == MAX_SOURCE_TOKENS
    captioner = ModelConfig(task="captioning", tgt_vocab=10)
    assert max_source_positions(captioner) is None


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_info_states_the_limit(path):
    info = read_checkpoint_info(path)
    limit = info["input_limit"]
    if info["task"] == "translation":
        assert 0 < limit["max_source_tokens"] == limit["max_source_positions"] - 1
    else:
        assert limit == {"max_image_pixels": MAX_IMAGE_PIXELS}


def _over_the_limit(path) -> str:
    """A line of real words one token past the model's own limit (or further)."""
    limit = read_checkpoint_info(path)["input_limit"]["max_source_tokens"]
    sentence = GOOD["zh" if "zh" in path.name else "de"][1]
    return " ".join([sentence] * (limit // 2 + 2))  # each copy is several tokens


TRANSLATORS = [p for p in BUNDLED if read_checkpoint_info(p)["task"] == "translation"]
CAPTIONERS = [p for p in BUNDLED if read_checkpoint_info(p)["task"] == "captioning"]


@pytest.mark.slow
@pytest.mark.parametrize("path", TRANSLATORS, ids=lambda p: p.name)
def test_a_line_over_the_models_limit_among_good_lines(path, tmp_path, capsys):
    good = GOOD["zh" if "zh" in path.name else "de"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join([good[0], _over_the_limit(path), good[1]]) + "\n", "utf-8")
    assert main(["translate", "-c", str(path), "-i", str(source), "--max-length", "30"]) == 0
    out, err = capsys.readouterr()
    first, refused, last = out.split("\n")[:3]
    assert first and last and refused == ""
    assert "this model takes at most" in err and "Traceback" not in err


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` (its pixels are never read)."""
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.slow
@pytest.mark.parametrize("path", CAPTIONERS, ids=lambda p: p.name)
def test_a_picture_over_the_limit_among_good_ones(path, tmp_path, capsys):
    side = int(MAX_IMAGE_PIXELS**0.5) + 2
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_declaring(side, side))
    good = [str(p) for p in example_images()[:2]]
    status = main(["caption", "-c", str(path), good[0], str(huge), good[1]])
    assert status == 1  # some input was refused; the others are captioned
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line]
    assert [line.split("\t")[0] for line in lines] == good
    assert "huge.png" in err and "megapixels" in err and "Traceback" not in err
