"""A Hugging Face folder's facts (``HfFolder.describe`` and what the model adds) in words.

The model panel shows these lines instead of the raw JSON, whose list of language codes
(NLLB's 202) buries the rest; the JSON stays one click away ("Details…").
"""

from __future__ import annotations

from typing import Any

from attnscope.engine.languages import language_pair

# the word convention -> how a word's first piece is marked (engine/pieces.py)
_WORD_MARKS = {
    "sentencepiece": "▁ starts a word",
    "byte-level BPE": "Ġ starts a word",
    "wordpiece": "## continues a word",
}
# one size of an encoder–decoder config, under its Marian/BART name or its T5 name
_ENCODER_LAYERS = ("encoder_layers", "num_layers")
_DECODER_LAYERS = ("decoder_layers", "num_decoder_layers", "num_layers")
_DECODER_HEADS = ("decoder_attention_heads", "num_heads")
_ENCODER_HEADS = ("encoder_attention_heads", "num_heads")
_FEED_FORWARD = ("decoder_ffn_dim", "d_ff")
# a captioner half's sizes (engine/hf/vision_folder.py NESTED_SIZE_BOUNDS), by what they mean
_HALF_LAYERS = ("num_hidden_layers", "n_layer", "decoder_layers", "depths")  # Swin: depths
_HALF_WIDTH = ("hidden_size", "n_embd", "d_model")
_HALF_HEADS = ("num_attention_heads", "n_head", "decoder_attention_heads", "num_heads")
_HALF_NAMES = {"vision_config": "Encoder", "text_config": "Decoder"}  # BLIP's halves


def is_folder(info: dict[str, Any]) -> bool:
    """Whether ``info`` is a Hugging Face folder's (not an AttnScope checkpoint's record)."""
    return info.get("format") == "huggingface"


def _first(sizes: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    """The first of ``keys`` that ``sizes`` holds as a number, else None."""
    for key in keys:
        value = sizes.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _count(facts: dict[str, Any], keys: tuple[str, ...], one: str, many: str) -> str | None:
    """ "2 layers" from the first of ``keys`` in a captioner half; a Swin encoder's
    per-stage lists read "2 layers (1+1)" and "1/2 heads" (per stage)."""
    for key in keys:
        value = facts.get(key)
        stages = isinstance(value, list) and all(type(v) is int for v in value) and value
        if stages and many == "layers":
            return f"{sum(value)} layers ({'+'.join(map(str, value))})"
        if stages:
            return f"{'/'.join(map(str, value))} {many} (per stage)"
    value = _first(facts, keys)
    return None if value is None else f"{value} {one if value == 1 else many}"


def _size_bytes(n: Any) -> str:
    if not isinstance(n, int):
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _text_sizes(sizes: dict[str, Any]) -> list[str]:
    """Layers, width, heads and vocabulary of a translation folder's flat config sizes."""
    encoder, decoder = _first(sizes, _ENCODER_LAYERS), _first(sizes, _DECODER_LAYERS)
    lines = [f"Layers: {encoder or '?'} encoder + {decoder or '?'} decoder"]
    width = [f"d_model {sizes['d_model']}"] if "d_model" in sizes else []
    heads, encoder_heads = _first(sizes, _DECODER_HEADS), _first(sizes, _ENCODER_HEADS)
    if heads is not None:
        both = f" (encoder {encoder_heads})" if encoder_heads not in (None, heads) else ""
        width.append(f"{heads} heads{both}")
    if _first(sizes, _FEED_FORWARD) is not None:
        width.append(f"feed-forward {_first(sizes, _FEED_FORWARD)}")
    if width:
        lines.append("Width: " + " · ".join(width))
    vocab = sizes.get("vocab_size")
    if isinstance(vocab, int):
        target = sizes.get("decoder_vocab_size")
        apart = f" (target {target:,})" if isinstance(target, int) and target != vocab else ""
        lines.append(f"Vocabulary: {vocab:,}{apart}")
    return lines


def _half_sizes(sizes: dict[str, Any]) -> list[str]:
    """One line per half of a captioner (its sizes by half: vision_folder.nested_sizes)."""
    lines = []
    for half, facts in sizes.items():
        if not isinstance(facts, dict):
            continue
        parts = [str(facts.get("model_type", "?"))]
        parts.append(_count(facts, _HALF_LAYERS, "layer", "layers"))
        width = _first(facts, _HALF_WIDTH)
        parts.append(None if width is None else f"{width} wide")
        parts.append(_count(facts, _HALF_HEADS, "head", "heads"))
        vocab = _first(facts, ("vocab_size",))
        parts.append(None if vocab is None else f"vocabulary {vocab:,}")
        parts = [part for part in parts if part]
        lines.append(f"{_HALF_NAMES.get(half, half.capitalize())}: " + ", ".join(parts))
    return lines


def _languages(info: dict[str, Any]) -> str | None:
    """ "eng_Latn → deu_Latn (202 codes)" for a multilingual folder, "de → en" for an
    opus-mt folder that names its pair, None for one that names none."""
    pair = info.get("language_pair")
    codes = pair.get("codes") if isinstance(pair, dict) else None
    if isinstance(codes, list) and codes:
        return f"{pair.get('source')} → {pair.get('target')} ({len(codes)} codes)"
    return language_pair(str(info.get("task", "")), info)


def describe_folder(info: dict[str, Any]) -> str:
    """The folder's family and class, sizes, word convention, languages and files, a
    fact a line (only the facts ``info`` holds)."""
    family, architecture = info.get("family", "?"), info.get("architecture", "?")
    lines = [f"Family: {family} ({architecture})"]
    sizes = info.get("sizes") if isinstance(info.get("sizes"), dict) else {}
    lines += _half_sizes(sizes) if info.get("task") == "captioning" else _text_sizes(sizes)
    convention = info.get("word_convention")
    if isinstance(convention, str):
        mark = _WORD_MARKS.get(convention)
        lines.append(f"Words: {convention}" + (f" ({mark})" if mark else ""))
    languages = _languages(info)
    if languages:
        lines.append(f"Languages: {languages}")
    if isinstance(info.get("weights"), str):
        lines.append(f"Weights: {info['weights']}, {_size_bytes(info.get('weights_bytes'))}")
    files = info.get("tokenizer_files")
    if isinstance(files, list) and files:
        lines.append("Tokenizer: " + ", ".join(str(name) for name in files))
    return "\n".join(lines)
