"""OpenNMT-py training options -> AttnScope's ``ModelConfig``, or a message naming what
cannot be mapped.

OpenNMT-py resolves its size options the way ``ArgumentParser.update_model_opts`` does:
``word_vec_size`` > 0 sets both embedding sizes, ``layers`` > 0 both depths,
``hidden_size`` > 0 both widths, and ``encoder_type brnn`` is a bidirectional RNN
encoder whose width is split between the two directions. ``resolved_options`` repeats
that; ``model_config`` maps the result onto the project's model family:

=====================================  ==============================================
OpenNMT-py                             AttnScope
=====================================  ==============================================
encoder rnn / brnn, LSTM / GRU         text encoder rnn, cell, bidirectional
decoder rnn, input_feed 1 / 0          luong placement, input_feed True / False
global_attention dot / general / mlp   attention dot / general / additive
decoder state from the encoder         decoder.init_from "final_states"
-bridge                                decoder.init_from "final_states_bridge"
linear_out (tanh for dot, general)     decoder.combine (combine_activation tanh)
linear_out of mlp (no tanh)            decoder.combine_activation "none"
share_embeddings                       share_embeddings
share_decoder_embeddings               tie_output
=====================================  ==============================================
"""

from __future__ import annotations

from typing import Any

from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ModelConfig,
    TextEncoderConfig,
)

# OpenNMT-py 3.5.1's defaults for the options read here (a checkpoint written by an older
# 3.x may lack a few; OpenNMT-py fills them in the same way).
DEFAULTS: dict[str, Any] = {
    "model_task": "seq2seq",
    "model_type": "text",
    "encoder_type": "rnn",
    "decoder_type": "rnn",
    "rnn_type": "LSTM",
    "layers": -1,
    "enc_layers": 2,
    "dec_layers": 2,
    "hidden_size": -1,
    "enc_hid_size": 500,
    "dec_hid_size": 500,
    "word_vec_size": -1,
    "src_word_vec_size": 500,
    "tgt_word_vec_size": 500,
    "input_feed": 1,
    "bridge": False,
    "global_attention": "general",
    "global_attention_function": "softmax",
    "coverage_attn": False,
    "copy_attn": False,
    "context_gate": None,
    "position_encoding": False,
    "share_embeddings": False,
    "share_decoder_embeddings": False,
    "generator_function": "softmax",
    "lora_layers": [],
    "lora_embedding": False,
    "quant_layers": [],
    "dropout": [0.3],
}
ATTENTION_KINDS = {"dot": "dot", "general": "general", "mlp": "additive"}
# What could be mapped later, given as the reason after each unmappable part.
LATER = {
    "coverage": "it could be mapped later: the decoder state already carries the summed "
    "alignment (DecoderState.cumulative) that its extra attention term reads",
    "context_gate": "it could be mapped later as one more gate on the decoder's output",
    "copy": "mapping it needs an output layer that mixes the vocabulary with the source "
    "positions (a copy generator), which AttnScope does not have yet",
    "transformer": "its stacked multi-head layers would need a new decoder; the step-model "
    "protocol already carries (layers, heads, source) attention, so it could come later",
    "cnn": "OpenNMT-py's CNN encoder and decoder (multi-step attention) differ from "
    "AttnScope's convolutional encoder; not mapped",
}


class UnsupportedOnmtModel(ValueError):
    """The checkpoint uses a part of OpenNMT-py AttnScope cannot map; the message names it."""


def resolved_options(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with OpenNMT-py's defaults filled in and its size shortcuts applied."""
    opts = DEFAULTS | raw
    if _number(opts, "word_vec_size") > 0:
        opts["src_word_vec_size"] = opts["tgt_word_vec_size"] = opts["word_vec_size"]
    if _number(opts, "layers") > 0:
        opts["enc_layers"] = opts["dec_layers"] = opts["layers"]
    if _number(opts, "hidden_size") > 0:
        opts["enc_hid_size"] = opts["dec_hid_size"] = opts["hidden_size"]
    opts["brnn"] = opts["encoder_type"] == "brnn"
    return opts


def refuse_unmappable(opts: dict[str, Any]) -> None:
    """UnsupportedOnmtModel naming the first part of the model that cannot be mapped."""
    encoder, decoder = opts["encoder_type"], opts["decoder_type"]
    checks = [
        (opts["model_task"] != "seq2seq", f"model task {opts['model_task']!r} (a language model)"),
        (opts["model_type"] != "text", f"model type {opts['model_type']!r}"),
        (
            encoder in ("transformer", "transformer_lm") or decoder == "transformer",
            f"a Transformer {'encoder' if encoder.startswith('transformer') else 'decoder'}: "
            + LATER["transformer"],
        ),
        (encoder == "cnn" or decoder == "cnn", "a CNN encoder or decoder: " + LATER["cnn"]),
        (encoder not in ("rnn", "brnn"), f"encoder type {encoder!r} (RNN encoders only)"),
        (decoder != "rnn", f"decoder type {decoder!r} (RNN decoders only)"),
        (opts["rnn_type"] not in ("LSTM", "GRU"), f"rnn_type {opts['rnn_type']!r} (LSTM, GRU)"),
        (bool(opts["coverage_attn"]), "coverage attention (-coverage_attn): " + LATER["coverage"]),
        (bool(opts["copy_attn"]), "copy attention (-copy_attn): " + LATER["copy"]),
        (bool(opts["context_gate"]), "a context gate (-context_gate): " + LATER["context_gate"]),
        (
            opts["global_attention"] not in ATTENTION_KINDS,
            f"global attention {opts['global_attention']!r} (dot, general and mlp are mapped)",
        ),
        (
            opts["global_attention_function"] != "softmax",
            f"attention function {opts['global_attention_function']!r} (softmax only)",
        ),
        (opts["generator_function"] != "softmax", f"generator {opts['generator_function']!r}"),
        (bool(opts["position_encoding"]), "position encoding in the embeddings"),
        (bool(opts["lora_layers"]) or bool(opts["lora_embedding"]), "LoRA adapters"),
        (bool(opts["quant_layers"]), "quantized layers"),
        (
            opts["src_word_vec_size"] != opts["tgt_word_vec_size"],
            f"different source and target embedding sizes ({opts['src_word_vec_size']} and "
            f"{opts['tgt_word_vec_size']}); AttnScope has one embed_dim",
        ),
    ]
    for failed, part in checks:
        if failed:
            raise UnsupportedOnmtModel(f"uses {part}, which AttnScope cannot map")


def model_config(opts: dict[str, Any], *, src_vocab: int, tgt_vocab: int) -> ModelConfig:
    """The ModelConfig of an OpenNMT-py RNN model with resolved ``opts``.

    UnsupportedOnmtModel for a part that cannot be mapped; ValueError for sizes the
    project's bounds refuse.
    """
    refuse_unmappable(opts)
    directions = 2 if opts["brnn"] else 1
    enc_width, dec_width = _number(opts, "enc_hid_size"), _number(opts, "dec_hid_size")
    if enc_width != dec_width or opts["enc_layers"] != opts["dec_layers"]:
        raise UnsupportedOnmtModel(
            f"has an encoder of {opts['enc_layers']} x {enc_width} and a decoder of "
            f"{opts['dec_layers']} x {dec_width}; OpenNMT-py starts its decoder from the "
            "encoder's states, which needs the same sizes"
        )
    if enc_width % directions:
        raise UnsupportedOnmtModel(f"has an odd bidirectional encoder width {enc_width}")
    tied = bool(opts["share_decoder_embeddings"])
    if tied and dec_width != _number(opts, "tgt_word_vec_size"):
        raise UnsupportedOnmtModel(
            f"ties its output layer to embeddings of size {opts['tgt_word_vec_size']} while "
            f"the decoder is {dec_width} wide"
        )
    cell = opts["rnn_type"].lower()
    dropout = _dropout(opts["dropout"])
    attention = ATTENTION_KINDS[opts["global_attention"]]
    return ModelConfig(
        task="translation",
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
        embed_dim=_number(opts, "src_word_vec_size"),
        text_encoder=TextEncoderConfig(
            kind="rnn",
            cell=cell,
            layers=opts["enc_layers"],
            hidden=enc_width // directions,
            bidirectional=directions == 2,
            dropout=dropout,
        ),
        attention=AttentionConfig(
            kind=attention, hidden=dec_width if attention == "additive" else 0
        ),
        decoder=DecoderConfig(
            cell=cell,
            layers=opts["dec_layers"],
            hidden=dec_width,
            dropout=dropout,
            placement="luong",
            input_feed=bool(opts["input_feed"]),
            init_from="final_states_bridge" if opts["bridge"] else "final_states",
            combine_activation="none" if attention == "additive" else "tanh",
        ),
        share_embeddings=bool(opts["share_embeddings"]),
        tie_output=tied,
        source_eos=False,  # OpenNMT-py 3.x numericalizes a seq2seq source without eos
    )


def _number(opts: dict[str, Any], name: str) -> int:
    value = opts[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnsupportedOnmtModel(f"has option {name} = {value!r:.40}, not an integer")
    return value


def _dropout(value: Any) -> float:
    """OpenNMT-py's dropout (a list, one value per schedule step) as one rate in [0, 1)."""
    first = value[0] if isinstance(value, list) and value else value
    if isinstance(first, int | float) and not isinstance(first, bool) and 0 <= first < 1:
        return float(first)
    return 0.0  # only training reads it; decoding runs in eval mode
