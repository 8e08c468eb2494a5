"""int8 weights for CPU decoding: ``--int8`` on the decoding commands, and the app's switch.

``torch.ao.quantization.quantize_dynamic`` stores the weights of every
``nn.Linear``, ``nn.GRU`` and ``nn.LSTM`` as int8 (one scale per tensor) and
quantizes their inputs on each call (dynamic quantisation, as OpenNMT-py's
``-precision int8`` does on the CPU); embeddings, the image trunk's
convolutions and the attention's elementwise math stay float32. The products
read a quarter of the bytes and run on int8 kernels (fbgemm / onednn).

- **The step**: the decoder's fast step (models/fast_step.py) calls the int8
  products' own ops directly, skipping the modules' call overhead, so it gives
  the bits of the reference step of the same int8 model.
- **Outputs differ from float32**: the weights are rounded to 256 levels, so
  tokens and scores change (BLEU on val.de in benchmarks/int8_quality.py and
  benchmarks/README.md); the byte-identical checks of the project apply to
  float32 only.
- **CPU only**: the quantized kernels exist for the CPU; another device raises
  DeviceError.
"""

from __future__ import annotations

import logging
import warnings

from attnscope.engine.errors import DeviceError

logger = logging.getLogger(__name__)


def _stable_weights(int8_class: type, name: str) -> type:
    """``int8_class`` (a dynamic int8 RNN) told that its weights never change.

    The decoders ask their RNN ``_weights_have_changed()`` once per decode (to refresh
    the flat float weights the fast step reads); a quantized RNN holds packed int8
    weights that a decode never replaces, so the answer is always no.
    """

    class StableWeights(int8_class):
        def _weights_have_changed(self) -> bool:
            return False

        def _init_flat_weights(self) -> None:
            pass

        @classmethod
        def from_float(cls, module, *args, **kwargs):
            quantized = int8_class.from_float(module, *args, **kwargs)
            quantized.__class__ = cls  # from_float builds the base class by name
            return quantized

    StableWeights.__name__ = StableWeights.__qualname__ = name
    return StableWeights


def quantize_int8(model, *, inplace: bool = False):
    """``model`` (an nn.Module in eval mode, on the CPU) with int8 Linear / GRU / LSTM
    weights; a copy unless ``inplace``. DeviceError off the CPU."""
    import torch
    from torch import nn
    from torch.ao.nn.quantized import dynamic
    from torch.ao.quantization import quantize_dynamic

    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise DeviceError(
            f"int8 weights run on the CPU only; this model is on {', '.join(sorted(devices))}"
        )
    mapping = {
        nn.Linear: dynamic.Linear,
        nn.GRU: _stable_weights(dynamic.GRU, "Int8GRU"),
        nn.LSTM: _stable_weights(dynamic.LSTM, "Int8LSTM"),
    }
    with warnings.catch_warnings():  # torch marks torch.ao.quantization deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized = quantize_dynamic(
            model.eval(), set(mapping), dtype=torch.qint8, mapping=mapping, inplace=inplace
        )
    logger.info("int8 weights for the linear and RNN products")
    return quantized


def is_int8(model) -> bool:
    """True when ``model`` holds dynamically quantized (int8) products (never for a step
    model that is no torch network, e.g. a Hugging Face folder's HfStepModel)."""
    from torch import nn
    from torch.ao.nn.quantized import dynamic

    if not isinstance(model, nn.Module):
        return False
    return any(isinstance(m, dynamic.Linear) for m in model.modules())


def _check_network(inference_model) -> None:
    """DeviceError unless the model's step model is a torch network AttnScope built (a
    Hugging Face folder's runs as transformers built it, float32 only)."""
    from torch import nn

    if not isinstance(inference_model.model, nn.Module):
        raise DeviceError(
            "int8 weights are for AttnScope's own checkpoints; "
            f"{inference_model.source_path.name} runs in float32"
        )


def use_int8(inference_model) -> None:
    """Quantize a loaded ``InferenceModel``'s network in place (the CLI's ``--int8``)."""
    if inference_model.device.type != "cpu":
        raise DeviceError(f"--int8 runs on the CPU only, not on {inference_model.device}")
    _check_network(inference_model)
    inference_model.model = quantize_int8(inference_model.model, inplace=True)


def switch_int8(inference_model, on: bool) -> None:
    """The app's switch: a loaded ``InferenceModel`` runs an int8 copy of its checkpoint's
    float32 network (``on``) or that network again; DeviceError off the CPU."""
    if on == is_int8(inference_model.model):
        return
    if not on:
        inference_model.model = inference_model.checkpoint.model
        return
    _check_network(inference_model)
    if inference_model.device.type != "cpu":
        raise DeviceError(f"int8 weights run on the CPU only, not on {inference_model.device}")
    inference_model.model = quantize_int8(inference_model.checkpoint.model)


def add_int8_argument(parser) -> None:
    """The ``--int8`` option of the decoding commands (an argparse parser)."""
    parser.add_argument(
        "--int8",
        action="store_true",
        help="int8 weights for the linear and RNN products (dynamic quantisation, CPU only): "
        "faster, with outputs that differ from float32 (see benchmarks/README.md)",
    )
