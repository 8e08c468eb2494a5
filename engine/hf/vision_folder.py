"""The checks a captioner folder (VisionEncoderDecoder, BLIP) gets beyond a text model's.

A captioner's config.json nests its two halves: ``encoder`` and ``decoder`` for a
``VisionEncoderDecoderModel``, ``vision_config`` and ``text_config`` for BLIP. Each half
is bounded like a text model's config (an untrusted config must not make us build
10,000 layers or a 100,000-cell grid), names a model type AttnScope has stepped and
tested, and needs no code of its own. The folder's ``preprocessor_config.json`` (how a
picture becomes ``pixel_values``) must be there, bounded plain JSON, and name an image
processor class from ``IMAGE_PROCESSORS`` (picked by name when loading, never through
an ``Auto…`` class that could follow an ``auto_map``).

``check_captioner(folder, config, name)`` raises ``HfFolderError`` with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attnscope.engine.hf.folder import HfFolderError, _read_json
from attnscope.models.config import (
    MAX_GRID_SIDE,
    MAX_HEADS,
    MAX_IMAGE_SIDE,
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCAB,
    MAX_WIDTH,
)

PREPROCESSOR_FILE = "preprocessor_config.json"

# The nested configs' halves, by architecture: (image side key, text side key).
HALVES = {
    "VisionEncoderDecoderModel": ("encoder", "decoder"),
    "BlipForConditionalGeneration": ("vision_config", "text_config"),
}
# Image encoders whose output AttnScope maps onto a patch grid, with the tokens that
# come before the grid (ViT: [CLS]; DeiT: [CLS] and its distillation token; Swin: none).
ENCODER_PREFIX_TOKENS = {"vit": 1, "deit": 2, "swin": 0, "blip_vision_model": 1}
# Text decoders with cross-attention that the tests step against generate().
DECODER_TYPES = ("gpt2", "bert", "trocr", "blip_text_model")
# Image processors that resize (and maybe centre-crop) then normalise; old folders name
# a ``…FeatureExtractor``, read as its ``…ImageProcessor``.
IMAGE_PROCESSORS = ("ViTImageProcessor", "DeiTImageProcessor", "BlipImageProcessor")

# Size fields of the nested configs (ViT/DeiT/Swin/BLIP vision, GPT-2, BERT, TrOCR, BLIP
# text).
# A list (Swin's ``depths`` and ``num_heads`` per stage) is bounded element by element.
NESTED_SIZE_BOUNDS: dict[str, tuple[int, int]] = {
    "hidden_size": (1, MAX_WIDTH),
    "encoder_hidden_size": (1, MAX_WIDTH),
    "intermediate_size": (1, 4 * MAX_WIDTH),
    "num_hidden_layers": (1, MAX_LAYERS),
    "num_attention_heads": (1, MAX_HEADS),
    "n_embd": (1, MAX_WIDTH),
    "n_inner": (1, 4 * MAX_WIDTH),
    "n_layer": (1, MAX_LAYERS),
    "n_head": (1, MAX_HEADS),
    "n_positions": (1, MAX_POSITIONS),
    "d_model": (1, MAX_WIDTH),  # TrOCR's names
    "decoder_layers": (1, MAX_LAYERS),
    "decoder_attention_heads": (1, MAX_HEADS),
    "decoder_ffn_dim": (1, 4 * MAX_WIDTH),
    "cross_attention_hidden_size": (1, MAX_WIDTH),
    "max_position_embeddings": (1, MAX_POSITIONS),
    "vocab_size": (1, MAX_VOCAB),
    "type_vocab_size": (1, MAX_VOCAB),  # BERT's token type embeddings
    "embed_dim": (1, MAX_WIDTH),
    "depths": (1, MAX_LAYERS),
    "num_heads": (1, MAX_HEADS),
    "window_size": (1, MAX_GRID_SIDE),
    "image_size": (1, MAX_IMAGE_SIDE),
    "patch_size": (1, MAX_IMAGE_SIDE),
    "encoder_stride": (1, MAX_IMAGE_SIDE),
    "num_channels": (1, 4),
}
MAX_STAGES = 8  # Swin has 4
MAX_MLP_RATIO = 16.0  # Swin's MLP width over its embedding width (4 in its configs)


def check_captioner(folder: Path, architecture: str, config: dict[str, Any], name: str) -> None:
    """Check a captioner's nested configs and its image processor file (module docstring)."""
    image_key, text_key = HALVES[architecture]
    check_nested_sizes(config, name, architecture)
    image = _half(config, image_key, name)
    text = _half(config, text_key, name)
    shown = f"{name}/config.json {image_key}"
    encoder_type = image.get(
        "model_type", "blip_vision_model" if image_key == "vision_config" else None
    )
    if encoder_type not in ENCODER_PREFIX_TOKENS:
        raise HfFolderError(
            f"{shown}: image encoder {encoder_type!r:.40} is not supported; "
            f"supported: {', '.join(t for t in ENCODER_PREFIX_TOKENS if t != 'blip_vision_model')}"
        )
    decoder_type = text.get("model_type", "blip_text_model" if text_key == "text_config" else None)
    if decoder_type not in DECODER_TYPES:
        raise HfFolderError(
            f"{name}/config.json {text_key}: text decoder {decoder_type!r:.40} is not "
            f"supported; supported: {', '.join(t for t in DECODER_TYPES if t != 'blip_text_model')}"
        )
    _check_grid(image, shown)
    read_image_processor_config(folder, name)


def read_image_processor_config(folder: Path, name: str) -> dict[str, Any]:
    """preprocessor_config.json as plain JSON, its class one of IMAGE_PROCESSORS (the
    ``…ImageProcessor`` name it gives, or its ``…FeatureExtractor`` name), its sizes
    bounded by MAX_IMAGE_SIDE."""
    path = folder / PREPROCESSOR_FILE
    if not path.exists():
        raise HfFolderError(
            f"{name} has no {PREPROCESSOR_FILE}: a captioner needs its image processor "
            "settings (save the processor with save_pretrained into the folder)"
        )
    settings = _read_json(path, name)
    if "auto_map" in settings:
        raise HfFolderError(
            f"{name}'s image processor needs its own Python code (auto_map in "
            f"{PREPROCESSOR_FILE}); AttnScope never runs code from a model folder"
        )
    kind = image_processor_class(settings)
    if kind not in IMAGE_PROCESSORS:
        raise HfFolderError(
            f"{name}/{PREPROCESSOR_FILE}: image processor {kind!r:.60} is not supported; "
            f"supported: {', '.join(IMAGE_PROCESSORS)}"
        )
    for key in ("size", "crop_size"):
        sizes = settings.get(key)
        values = sizes.values() if isinstance(sizes, dict) else [] if sizes is None else [sizes]
        for value in values:
            if not _is_int_in(value, 1, MAX_IMAGE_SIDE):
                raise HfFolderError(
                    f"{name}/{PREPROCESSOR_FILE}: {key} must hold integers in "
                    f"1..{MAX_IMAGE_SIDE:,}, got {sizes!r:.60}"
                )
    return settings


def image_processor_class(settings: dict[str, Any]) -> str | None:
    """The image processor class a preprocessor_config.json names (``…Fast`` and
    ``…FeatureExtractor`` read as the plain ``…ImageProcessor``), or None."""
    kind = settings.get("image_processor_type") or settings.get("feature_extractor_type")
    if not isinstance(kind, str):
        return None
    return kind.removesuffix("Fast").replace("FeatureExtractor", "ImageProcessor")


def check_nested_sizes(config: dict[str, Any], name: str, architecture: str) -> None:
    """Every size field of both halves within NESTED_SIZE_BOUNDS (lists element-wise)."""
    for key in HALVES[architecture]:
        half = config.get(key)
        if not isinstance(half, dict):
            continue  # _half says so with the rest of the checks
        for field, (low, high) in NESTED_SIZE_BOUNDS.items():
            value = half.get(field)
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            if not (
                len(values) <= MAX_STAGES
                and values
                and all(_is_int_in(v, low, high) for v in values)
            ):
                raise HfFolderError(
                    f"{name}/config.json {key}.{field} must be an integer in "
                    f"{low}..{high:,} (or a list of up to {MAX_STAGES}), got {value!r:.40}"
                )
        ratio = half.get("mlp_ratio")
        if ratio is not None and not (
            isinstance(ratio, int | float)
            and not isinstance(ratio, bool)
            and 0 < ratio <= MAX_MLP_RATIO
        ):
            raise HfFolderError(
                f"{name}/config.json {key}.mlp_ratio must be a number in "
                f"(0, {MAX_MLP_RATIO:g}], got {ratio!r:.40}"
            )
        depths = half.get("depths")
        if isinstance(depths, list) and sum(depths) > MAX_LAYERS:
            raise HfFolderError(
                f"{name}/config.json {key}.depths adds up to {sum(depths)} layers; "
                f"at most {MAX_LAYERS}"
            )


def nested_sizes(config: dict[str, Any], architecture: str) -> dict[str, Any]:
    """The size fields of both halves, by half ("encoder": {"hidden_size": 768, ...}),
    with each half's model type: what ``attnscope info`` shows of a captioner."""
    sizes = {}
    for key in HALVES[architecture]:
        half = config.get(key, {})
        fields = ("model_type", *NESTED_SIZE_BOUNDS)
        sizes[key] = {field: half[field] for field in fields if half.get(field) is not None}
    return sizes


def _half(config: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    half = config.get(key)
    if not isinstance(half, dict):
        raise HfFolderError(f"{name}/config.json has no {key} (a JSON object)")
    if "auto_map" in half:
        raise HfFolderError(
            f"{name} needs its own Python code (auto_map in config.json {key}); "
            "AttnScope never runs code from a model folder"
        )
    return half


def _check_grid(image: dict[str, Any], shown: str) -> None:
    """The encoder's patch grid (image size / patch size, Swin: halved by each later
    stage) has at most MAX_GRID_SIDE cells a side (sizes already bounded)."""
    size, patch = image.get("image_size", 224), image.get("patch_size", 16)
    sizes = size if isinstance(size, list) else [size]
    patches = patch if isinstance(patch, list) else [patch]
    stages = len(image["depths"]) if isinstance(image.get("depths"), list) else 1
    side = max(sizes) // (min(patches) * 2 ** (stages - 1))
    if side > MAX_GRID_SIDE:
        raise HfFolderError(
            f"{shown}: image_size {size!r:.20} over patch_size {patch!r:.20} makes a "
            f"grid of {side} patches a side; at most {MAX_GRID_SIDE}"
        )


def _is_int_in(value: Any, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high
