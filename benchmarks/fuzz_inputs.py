"""What the fuzzers feed AttnScope and what must hold: strategies, tiny models, invariants.

Shared by benchmarks/fuzz.py (10,000 inputs a target) and the unit suite
(tests/reliability/test_fuzz_inputs.py, a few dozen). Inputs are small
descriptions (a seed file's name and the mutations to apply, a text, a
picture's recipe) so a failing one prints readably and replays exactly.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import torch
from fuzz_checkpoints import CheckpointCase, canonical_safetensors, materialize_checkpoint
from fuzz_images import ImageCase, materialize_image
from fuzz_text_files import TextFileCase
from hypothesis import strategies as st

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import CheckpointError, DataError, ImageInputError, InputTextError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.input_files import read_text_lines
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import (
    DecoderConfig,
    ImageEncoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model

SOURCE_LINES = ["der hund läuft im park .", "die katze schläft auf dem sofa .", "hallo welt !"]
TARGET_LINES = ["the dog runs in the park .", "the cat sleeps on the sofa .", "hello world !"]
DECODES = {
    "greedy": DecodeConfig(),
    "beam": DecodeConfig(strategy="beam", beam_size=3, n_best=2, max_length=40),
    "sampling": DecodeConfig(strategy="sampling", seed=0, top_k=5, max_length=40),
}
CAPTION_DECODE = DecodeConfig(max_length=12, max_length_ratio=0)


class InvariantViolation(AssertionError):
    """An output broke a promise (attention rows, types), as opposed to raising."""


# -- tiny models ----------------------------------------------------------------------------------
def _tokenizer(lines: list[str]) -> TextTokenizer:
    return TextTokenizer.train(lines * 10, vocab_size=40, num_threads=1)


def write_tiny_translator(folder: Path) -> dict[str, Path]:
    """A tiny random de→en model as .safetensors and as .pt + .json sidecar."""
    src, tgt = _tokenizer(SOURCE_LINES), _tokenizer(TARGET_LINES)
    config = ModelConfig(
        src_vocab=src.vocab_size,
        tgt_vocab=tgt.vocab_size,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=8, dropout=0.0),
        decoder=DecoderConfig(hidden=8, dropout=0.0),
    )
    torch.manual_seed(0)
    model = build_model(config).eval()
    path = save_checkpoint(
        folder / "translation.safetensors", model=model, tgt_tokenizer=tgt, src_tokenizer=src
    )
    torch.save(model.state_dict(), folder / "translation.pt")
    sidecar = {
        "model_config": config.to_dict(),
        "tgt_tokenizer": "base64:" + base64.b64encode(tgt.to_bytes()).decode(),
        "src_tokenizer": "base64:" + base64.b64encode(src.to_bytes()).decode(),
    }
    (folder / "translation.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return {"translation": path, "pt": folder / "translation.pt"}


def write_tiny_captioner(folder: Path) -> Path:
    """A tiny random captioner (mobilenet_v2 trunk, 32×32 input, 2×3 grid), float16 storage."""
    tgt = _tokenizer(TARGET_LINES)
    config = ModelConfig(
        task="captioning",
        tgt_vocab=tgt.vocab_size,
        embed_dim=8,
        image_encoder=ImageEncoderConfig(
            backbone="mobilenet_v2", grid=(2, 3), projection=8, image_size=(32, 32), dropout=0.0
        ),
        decoder=DecoderConfig(hidden=8, dropout=0.0),
    )
    torch.manual_seed(0)
    model = build_model(config).eval()
    path = folder / "captioning.safetensors"
    return save_checkpoint(path, model=model, tgt_tokenizer=tgt, storage_dtype=torch.float16)


# -- invariants ---------------------------------------------------------------------------------
def check_attention_rows(attention: np.ndarray | None, cells: int, where: str) -> None:
    """Every attention row (last ``cells`` positions) is finite, >= 0 and sums to 1."""
    if attention is None:
        return
    rows = np.asarray(attention, dtype=np.float64).reshape(-1, cells)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise InvariantViolation(f"{where}: attention has negative or non-finite weights")
    sums = rows.sum(axis=1)
    if rows.size and not np.allclose(sums, 1.0, atol=1e-4):
        raise InvariantViolation(f"{where}: attention rows sum to {sums.min()}..{sums.max()}")


def refusal(exc: Exception, path: Path | None = None) -> str:
    """ "refused: <the kind of message>" (file names and numbers dropped, for counting)."""
    text = str(exc).replace(str(path), "") if path is not None else str(exc)
    text = re.sub(r"image data \([\d,]+ bytes\)|/\S+", "", text)
    text = re.sub(r"[\d,.]+|'[^']*'|\([^)]*\)", "#", text)
    return "refused: " + " ".join(text.strip(" :").split()[:6])


def _check_str(value, where: str) -> None:
    if not isinstance(value, str):
        raise InvariantViolation(f"{where} is a {type(value).__name__}, not a str")


class FuzzModels:
    """Tiny checkpoints written to ``folder``, loaded once, and the three targets' checks.

    Each ``check_*`` returns "accepted" or "refused: <reason>" (the one allowed error);
    any other exception, or an ``InvariantViolation``, is a failure.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        paths = {**write_tiny_translator(folder), "captioning": write_tiny_captioner(folder)}
        # safetensors writes its metadata in a per-process order: sort it, so that the same
        # mutation hits the same bytes in every run (a kept failing input replays exactly)
        self.seeds = {
            name: path.read_bytes() if name == "pt" else canonical_safetensors(path.read_bytes())
            for name, path in paths.items()
        }
        self.sidecar = (folder / "translation.json").read_text(encoding="utf-8")
        self.translator = load_inference_model(paths["translation"], device="cpu")
        self.captioner = load_inference_model(paths["captioning"], device="cpu")

    def check_checkpoint(self, case: CheckpointCase) -> str:
        suffix, blob, sidecar = materialize_checkpoint(case, self.seeds, self.sidecar)
        path = self.folder / f"fuzzed{suffix}"
        path.write_bytes(blob)
        path.with_suffix(".json").write_text(sidecar, encoding="utf-8", errors="surrogatepass")
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as exc:
            return refusal(exc, path)
        if checkpoint.model.training:
            raise InvariantViolation("a loaded model is in training mode")
        return "accepted"

    def check_text(self, case: tuple[str, str]) -> str:
        text, strategy = case
        try:
            (translation,) = self.translator.translate([text], DECODES[strategy])
        except InputTextError as exc:
            return refusal(exc)
        _check_str(translation.text, "translation text")
        cells = len(translation.source_pieces)
        check_attention_rows(translation.attention, cells, "translate()")
        opened = self.translator.open_session(text, DECODES[strategy])
        for _ in range(3):
            if not opened.done:
                opened.step()
        snapshot = opened.snapshot()
        _check_str(snapshot.target_text, "snapshot text")
        check_attention_rows(snapshot.attention, len(snapshot.source_pieces), "session")
        return "accepted"

    def check_text_file(self, case: TextFileCase) -> str:
        """read_text_lines splits on newline only and reports exactly the bad lines; the
        file translation writes one line per input line."""
        path = self.folder / ("fuzzed-lines.gz" if case.gzip else "fuzzed-lines.txt")
        path.write_bytes(case.content())
        try:
            text = read_text_lines(path)
        except DataError as exc:
            return refusal(exc, path)
        if len(text.lines) != case.expected_lines():
            raise InvariantViolation(f"{len(text.lines)} lines read, {case.expected_lines()} in")
        if text.replaced != case.bad_lines():
            raise InvariantViolation(f"lines {text.replaced} reported, {case.bad_lines()} bad")
        out = self.folder / "fuzzed-lines.out"
        if not self.translator.translate_file(str(path), str(out), DECODES["greedy"]):
            raise InvariantViolation("the file translation stopped by itself")
        written = out.read_bytes().count(b"\n")
        if written != len(text.lines):
            raise InvariantViolation(f"{written} lines out, {len(text.lines)} in")
        return "accepted"

    def check_image(self, case: ImageCase) -> str:
        source = materialize_image(case, self.folder)
        try:
            caption = self.captioner.caption(source, CAPTION_DECODE)
        except ImageInputError as exc:
            # a FIFO, a device link or a loop must say what it is, not "does not exist"
            may_be_missing = case.kind != "odd_path" or case.mode in ("gone", "broken_link")
            if not may_be_missing and "does not exist" in str(exc):
                raise InvariantViolation(f"{case.mode} reported as missing: {exc}") from exc
            return refusal(exc)
        _check_str(caption.text, "caption text")
        h, w = caption.grid
        check_attention_rows(caption.attention, h * w, "caption()")
        return "accepted"


# -- text ----------------------------------------------------------------------------------------
AWKWARD_CHARACTERS = (
    "\u202e\u202d\u200f\u200e\u061c\u2067\u2069"  # bidi controls
    "\u200b\u200c\u200d\ufeff\u00ad\u2060"  # zero-width and invisible
    "\x00\x07\x1b\x7f\x85\u2028\u2029\r\n\t\x0b\x0c"  # controls and line breaks
    "\u0301\u0336\u20dd"  # combining marks
    "😀👩‍👩‍👧🏳️‍🌈🇩🇪"  # emoji (with joiners and flags)
    "مرحباשלוםनमस्ते中文한국어"  # RTL and other scripts
    "\ufffd\ufffe\uffff\U0010ffff\U000e0001"  # replacement, non-characters, tags
)
_alphabet = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),  # lone surrogates
    st.characters(categories=["Cc", "Cf", "Co", "Cn", "Zs", "Zl", "Zp", "M"]),
    st.sampled_from(AWKWARD_CHARACTERS),
    st.sampled_from("".join(SOURCE_LINES)),
)
_words = st.sampled_from(" ".join(SOURCE_LINES).split())


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // max(1, len(unit)) + 1))[:length]


def _sprinkle(line: str, inserts: list[tuple[int, str]]) -> str:
    for at, text in inserts:
        at %= len(line) + 1
        line = line[:at] + text + line[at:]
    return line


def text_inputs() -> st.SearchStrategy[tuple[str, str]]:
    """(text, decode strategy name): short and long, clean and hostile."""
    texts = st.one_of(
        st.text(_alphabet, max_size=80),
        st.builds(_repeat, st.text(_alphabet, min_size=1, max_size=12), st.integers(1, 12_000)),
        st.builds(_repeat, _words.map(lambda w: w + " "), st.integers(1, 4_000)),
        st.builds(
            _sprinkle,
            st.sampled_from(SOURCE_LINES),
            st.lists(st.tuples(st.integers(0, 100), st.text(_alphabet, max_size=4)), max_size=6),
        ),
        st.sampled_from(["", " ", "\n", "\t \r\n", "\x00", "\ufeff", "\u200b" * 50]),
    )
    return st.tuples(texts, st.sampled_from(sorted(DECODES)))


__all__ = [
    "FuzzModels",
    "InvariantViolation",
    "check_attention_rows",
    "refusal",
    "text_inputs",
    "write_tiny_captioner",
    "write_tiny_translator",
]
