"""The hostile checkpoint cases, by class (issue 23 item 11); builders in hostile_checkpoints.

``CASES[name]`` is a ``Case``: the builder (folder, seed checkpoint) -> the file to open,
the seed it derives from ("translation" or "captioning"), a regex the refusal must
match, and ``load_only`` for cases only loading can see (``info`` reads no weights).
Names start with their class: json_, sizes_, settings_, tokenizer_, values_, pt_,
pickle_. ``TEXT_CASES[name](folder)`` gives (tokenizer model bytes, a line, a regex):
the line must be refused by that tokenizer in bounded memory.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch

from benchmarks.hostile_checkpoints import (
    DEEP,
    LONG,
    big_state_dict,
    bytes_file,
    deep,
    expanded,
    expanding_checkpoint,
    fifo,
    fifo_sidecar,
    implied_state_dict,
    legacy_declaring,
    line_of,
    poisoned,
    raw_header,
    set,
    shape_of_first,
    sidecar_text,
    sparse,
    state_dict,
    tokenizer_at,
    torch_zip,
    with_config,
    with_config_text,
    with_info,
    with_metadata,
    with_tensors,
)


class Case(NamedTuple):
    build: Callable[[Path, Path], Path]
    seed: str
    pattern: str
    load_only: bool = False


TEXT_CASES = {
    "tokenizer_a_5000_times_200": line_of(200, "a" * 5000),
    "tokenizer_a_in_prose": line_of(250, "a banana and a papaya " * 200),
}

_PICKLED = pickle.dumps({"decoder.bridge.weight": [[0.0] * 4]})
_NAN, _INF = float("nan"), float("inf")

CASES = {
    # checkpoint metadata and JSON sidecars
    "json_deep_training_info": Case(
        with_metadata("deep-info.safetensors", training_info='{"a": ' + deep(DEEP) + "}"),
        "translation",
        "'training_info' is refused: its JSON nests deeper",
    ),
    "json_deep_model_config_900": Case(
        with_metadata("deep900.safetensors", model_config='{"x": ' + deep(900) + "}"),
        "translation",
        "'model_config' is refused: its JSON nests deeper than 64",
    ),
    "json_long_int_model_config": Case(
        with_config_text("long-int.safetensors", '"tgt_vocab": ', '"tgt_vocab": ' + LONG + ", "),
        "translation",
        "'model_config' is refused: its JSON holds a number of 5,000",
    ),
    "json_4000_digit_training_info": Case(
        with_metadata("digits.safetensors", training_info='{"a": ' + "7" * 4000 + "}"),
        "translation",
        "'training_info' is refused: its JSON holds a number of 4,000",
    ),
    "json_long_float_image_preprocess": Case(
        with_metadata(
            "long-float.safetensors",
            image_preprocess='{"size": [32, 32], "mean": [0.' + "5" * 5000 + ", 0.5, 0.5]}",
        ),
        "captioning",
        "'image_preprocess' is refused: its JSON holds a number",
    ),
    "json_deep_header": Case(
        raw_header(
            "deep-header.safetensors", lambda t: t.rstrip()[:-1] + ', "z": ' + deep(DEEP) + "}"
        ),
        "translation",
        "header is refused: its JSON nests deeper",
    ),
    "json_long_shape_in_header": Case(
        raw_header("long-shape.safetensors", lambda t: shape_of_first(t, f"[{LONG[:4000]}, 2]")),
        "translation",
        "header is refused: its JSON holds a number of 4,000",
    ),
    "json_200_dimensions_in_header": Case(
        raw_header("dims.safetensors", lambda t: shape_of_first(t, json.dumps([2**62] * 200))),
        "translation",
        "has 200 dimensions; at most 8",
    ),
    "json_deep_sidecar": Case(
        sidecar_text("deep-sidecar.pt", '{"model_config": ' + deep(DEEP) + "}"),
        "translation",
        "the config is refused: its JSON nests deeper",
    ),
    "json_long_int_sidecar": Case(
        sidecar_text("long-sidecar.pt", '{"model_config": {"tgt_vocab": ' + LONG + "}}"),
        "translation",
        "the config is refused: its JSON holds a number of 5,000",
    ),
    # absurd model sizes
    "sizes_100000_decoder_layers": Case(
        with_config("layers.safetensors", set(("decoder", "layers"), 100_000)),
        "translation",
        r"decoder\.layers must be an integer in 1\.\.32, got 100000",
    ),
    "sizes_encoder_layers": Case(
        with_config("enc-layers.safetensors", set(("text_encoder", "layers"), 10**9)),
        "translation",
        r"text_encoder\.layers must be",
    ),
    "sizes_decoder_hidden": Case(
        with_config("hidden.safetensors", set(("decoder", "hidden"), 10**7)),
        "translation",
        r"decoder\.hidden must be",
    ),
    "sizes_attention_heads": Case(
        with_config("heads.safetensors", set(("attention", "heads"), 10**5)),
        "translation",
        r"attention\.heads must be",
    ),
    "sizes_vocabulary": Case(
        with_config("vocab.safetensors", set(("tgt_vocab",), 10**12)),
        "translation",
        "tgt_vocab must be an integer in 1..1,000,000",
    ),
    "sizes_positions": Case(
        with_config("positions.safetensors", set(("text_encoder", "max_positions"), 10**9)),
        "translation",
        r"text_encoder\.max_positions must be",
    ),
    "sizes_embedding": Case(
        with_config("embed.safetensors", set(("embed_dim",), 2**40)),
        "translation",
        "embed_dim must be",
    ),
    "sizes_kernel": Case(
        with_config("kernel.safetensors", set(("text_encoder", "kernel_sizes"), [100_001])),
        "translation",
        r"text_encoder\.kernel_sizes must be",
    ),
    "sizes_1000_kernels": Case(
        with_config("kernels.safetensors", set(("text_encoder", "kernel_sizes"), [3] * 1000)),
        "translation",
        r"kernel_sizes must list 1\.\.16 widths",
    ),
    "sizes_location_kernel": Case(
        with_config("loc-kernel.safetensors", set(("attention", "location_kernel"), 10**6 + 1)),
        "translation",
        r"attention\.location_kernel must be",
    ),
    "sizes_fractional_layers": Case(
        with_config("half-layer.safetensors", set(("decoder", "layers"), 1.5)),
        "translation",
        r"decoder\.layers must be an integer",
    ),
    "sizes_image_grid": Case(
        with_config("grid.safetensors", set(("image_encoder", "grid"), [100_000, 100_000])),
        "captioning",
        r"image_encoder\.grid must be",
    ),
    "sizes_image_input": Case(
        with_config("image-size.safetensors", set(("image_encoder", "image_size"), [10**6, 9])),
        "captioning",
        r"image_encoder\.image_size must be",
    ),
    "sizes_implied_parameters": Case(
        with_config("implied.safetensors", set(("decoder", "hidden"), 8000)),
        "translation",
        "the config implies at least .* parameters, the file's tensors hold",
    ),
    "sizes_implied_parameters_pt": Case(
        implied_state_dict,
        "translation",
        "the config implies at least .* parameters, the file's tensors hold",
    ),
    # recommended decoding and preprocessing
    "settings_beam_10e8": Case(
        with_info(
            "beam.safetensors", recommended_decoding={"strategy": "beam", "beam_size": 10**8}
        ),
        "translation",
        r"recommended_decoding is invalid: beam_size must be an integer in 1\.\.64",
    ),
    "settings_unbounded_length": Case(
        with_info("length.safetensors", recommended_decoding={"max_length": 10**9}),
        "captioning",
        r"recommended_decoding is invalid: max_length must be",
    ),
    "settings_nan_temperature": Case(
        with_info(
            "nan-temp.safetensors",
            recommended_decoding={"strategy": "sampling", "temperature": _NAN},
        ),
        "translation",
        "recommended_decoding is invalid: temperature must be a finite",
    ),
    "settings_huge_temperature": Case(
        with_info("hot.safetensors", recommended_decoding={"temperature": 1e300}),
        "translation",
        "recommended_decoding is invalid: temperature",
    ),
    "settings_huge_seed": Case(
        with_info("seed.safetensors", recommended_decoding={"seed": 2**70}),
        "translation",
        "recommended_decoding is invalid: seed",
    ),
    "settings_unknown_field": Case(
        with_info("unknown.safetensors", recommended_decoding={"beams": 5}),
        "translation",
        "recommended_decoding is invalid: unknown decoding settings: beams",
    ),
    "settings_not_a_mapping": Case(
        with_info("text.safetensors", recommended_decoding="beam 5"),
        "translation",
        "recommended_decoding is invalid: decoding settings must be a mapping",
    ),
    "settings_nan_mean": Case(
        with_metadata(
            "nan-mean.safetensors", image_preprocess='{"size": [32, 32], "mean": [NaN, 0, 0]}'
        ),
        "captioning",
        "image_preprocess is invalid: mean and std must be finite",
    ),
    "settings_tiny_std": Case(
        with_metadata(
            "tiny-std.safetensors", image_preprocess='{"std": [1e-30, 1, 1], "size": [32, 32]}'
        ),
        "captioning",
        "image_preprocess is invalid: std must be positive",
    ),
    "settings_one_pixel": Case(
        with_metadata("one-pixel.safetensors", image_preprocess='{"size": [1, 1]}'),
        "captioning",
        r"image_preprocess size \[1, 1\] is too small for the mobilenet_v2 trunk",
    ),
    "settings_giant_input": Case(
        with_metadata("giant-input.safetensors", image_preprocess='{"size": [100000, 100000]}'),
        "captioning",
        "image_preprocess is invalid: image size .* is larger than 2048",
    ),
    "settings_nan_std_in_config": Case(
        with_config("nan-std.safetensors", set(("image_encoder", "std"), [_NAN, 1, 1])),
        "captioning",
        r"image_encoder\.std must be 3 numbers",
    ),
    # an embedded tokenizer with an expanding normalizer
    "tokenizer_rewrites_1000_bytes": Case(
        expanding_checkpoint,
        "translation",
        "tgt_tokenizer is not a usable .*rewrites one character into up to 1,000",
    ),
    # non-finite weights
    "values_nan_weight": Case(
        with_tensors("nan.safetensors", poisoned(_NAN)),
        "translation",
        r"tensor .* holds 1 NaN or infinite values",
        load_only=True,
    ),
    "values_inf_weight": Case(
        with_tensors("inf.safetensors", poisoned(-_INF)),
        "translation",
        r"tensor .* holds 1 NaN or infinite values",
        load_only=True,
    ),
    "values_float64_past_float32": Case(
        with_tensors("f64.safetensors", poisoned(1e300, torch.float64)),
        "translation",
        r"tensor .* holds 1 NaN or infinite values",
        load_only=True,
    ),
    "values_nan_in_state_dict": Case(
        state_dict("nan.pt", poisoned(_NAN)),
        "translation",
        r"tensor .* holds 1 NaN or infinite values",
        load_only=True,
    ),
    "values_nan_batchnorm_statistics": Case(
        with_tensors(
            "nan-bn.safetensors",
            lambda t: t[next(k for k in t if k.endswith("running_var"))].fill_(_NAN),
        ),
        "captioning",
        r"running_var holds .* NaN or infinite values",
        load_only=True,
    ),
    # plain .pt state dicts
    "pt_zero_stride_giant": Case(
        state_dict("giant.pt", expanded),
        "translation",
        "strides .*: a broadcast view that would expand",
    ),
    "pt_legacy_declares_32_gb": Case(
        legacy_declaring("declares.pt", 8 * 10**9),
        "translation",
        "declares a size of 8,000,000,000 in its pickle",
    ),
    "pt_state_dict_over_8_gib": Case(
        big_state_dict, "translation", "a state dict may have at most"
    ),
    "pt_tokenizer_is_a_fifo": Case(
        tokenizer_at("fifo.pt", fifo),
        "translation",
        r"'tgt_tokenizer' file .* is a FIFO \(named pipe\)",
    ),
    "pt_tokenizer_is_dev_zero": Case(
        tokenizer_at("zero.pt", lambda folder: Path("/dev/zero")),
        "translation",
        "'tgt_tokenizer' file /dev/zero is a character device",
    ),
    "pt_tokenizer_is_a_directory": Case(
        tokenizer_at("folder.pt", lambda folder: folder),
        "translation",
        "'tgt_tokenizer' file .* is a directory",
    ),
    "pt_tokenizer_is_huge": Case(
        tokenizer_at("huge-tok.pt", lambda folder: sparse(folder, 200 * 1024**2)),
        "translation",
        r"'tgt_tokenizer' file .* has 209,715,200 bytes; at most",
    ),
    "pt_sidecar_is_a_fifo": Case(
        lambda folder, seed: fifo_sidecar(folder, seed),
        "translation",
        r"'config' file .* is a FIFO",
    ),
    # raw pickles and other extensions
    "pickle_raw_bin": Case(
        bytes_file("weights.bin", lambda seed: _PICKLED),
        "translation",
        "is not a torch.save file .*raw Python pickle",
    ),
    "pickle_raw_pt": Case(
        bytes_file("weights.pt", lambda seed: _PICKLED),
        "translation",
        "raw Python pickle, which AttnScope never loads",
    ),
    "pickle_named_pkl": Case(
        bytes_file("weights.pkl", lambda seed: _PICKLED),
        "translation",
        "is not a safetensors checkpoint: it is a raw Python pickle",
    ),
    "pickle_torch_zip_named_model": Case(
        bytes_file("weights.model", torch_zip),
        "translation",
        "is not a safetensors checkpoint: it is a zip archive",
    ),
}
