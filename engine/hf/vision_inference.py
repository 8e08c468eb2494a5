"""A Hugging Face captioner folder as an ``InferenceModel``: drop a picture, step its caption.

``load_hf_inference_model(DIR)`` (engine/hf/inference.py) gives an ``HfCaptionModel``
when the folder holds a VisionEncoderDecoder or BLIP model (``HfFolder.task``). It is
an ``HfInferenceModel`` whose input is a picture: ``open_session(image)``,
``caption(image)``, ``attnscope caption -c DIR IMAGE`` and the app's drop-an-image all
go through ``encode_images``:

- the picture is read by the app's own bounded loader (engine/images.py: a pixel limit
  checked before decoding, any format problem one ImageInputError);
- the folder's image processor (its class picked by name from preprocessor_config.json,
  ``local_files_only``, never remote code) turns it into ``pixel_values``;
- the image views draw the attention over the encoder's patch grid
  (engine/hf/vision.py: grid cells only; the [CLS]/distillation share is left out).

The picture the views show is the one the grid covers: the original photo when the
processor resizes the whole of it (ViT, BLIP, Swin folders), the model's input
(un-normalised) when it also crops the centre (DeiT folders), so every cell lies on the
part of the picture it saw.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import InputTextError
from attnscope.engine.hf.folder import HfFolderError
from attnscope.engine.hf.inference import HfInferenceModel
from attnscope.engine.hf.loading import LoadedHfModel
from attnscope.engine.hf.vision import VisionMemory, VisionStepModel, load_image_processor
from attnscope.engine.images import ImageSource
from attnscope.engine.inference_results import Caption, ModelSummary
from attnscope.engine.input_files import display_path
from attnscope.engine.snapshot import TargetLabels

# a token in front of the grid, as the summary names it
PREFIX_NAMES = {0: "", 1: " + [CLS]", 2: " + [CLS], distillation"}
ENCODER_NAMES = {"vit": "ViT", "deit": "DeiT", "swin": "Swin", "blip_vision_model": "BLIP ViT"}
DECODER_NAMES = {"gpt2": "GPT-2", "bert": "BERT", "trocr": "TrOCR", "blip_text_model": "BLIP text"}


class HfCaptionModel(HfInferenceModel):
    """A loaded captioner folder (see the module docstring).

    hf:     the opened folder; its step model is a VisionStepModel
    device: where it runs
    """

    model: VisionStepModel

    def __init__(self, hf: LoadedHfModel, device: torch.device) -> None:
        super().__init__(hf, device)
        self.task = "captioning"
        self.src_tokenizer = None  # a picture is the input
        model = self.model
        self.labels = TargetLabels(
            self.piece, hf.text.detokenize, model.num_heads, num_layers=model.num_layers
        )
        self.processor = load_image_processor(hf.folder)
        # a centre crop leaves part of the photo unseen: show what the grid covers
        self._crops = bool(getattr(self.processor, "do_center_crop", False))

    def summary(self) -> ModelSummary:
        return self.folder_summary(self.architecture_text(), src_vocab=0, rollout=False)

    def architecture_text(self) -> str:
        """ "ViT + [CLS] → GPT-2, 2 layers × 2 heads" from the step model's parts."""
        model = self.model
        encoder = ENCODER_NAMES.get(model.encoder_type, model.encoder_type)
        decoder_type = getattr(model.decoder.config, "model_type", "")
        decoder = DECODER_NAMES.get(decoder_type, decoder_type)
        return (
            f"{encoder}{PREFIX_NAMES[model.prefix]} → {decoder}, "
            f"{model.num_layers} layers × {model.heads_per_layer} heads"
        )

    @property
    def image_mean(self) -> tuple[float, ...] | None:
        """The processor's normalising mean (0-1 per channel): the image what-if's grey."""
        if not getattr(self.processor, "do_normalize", False):
            return None
        return tuple(float(v) for v in self.processor.image_mean)

    # -- decoding ----------------------------------------------------------
    def open_session(self, source: ImageSource | np.ndarray, config: DecodeConfig):
        """A step-wise caption of one picture (``config`` bounded by ``decode_config``)."""
        return super().open_session(source, self.decode_config(config))

    def caption(self, image: ImageSource | np.ndarray, config: DecodeConfig) -> Caption:
        return super().caption(image, self.decode_config(config))

    def decode_config(self, config: DecodeConfig) -> DecodeConfig:
        """``config`` with at most as many tokens as the decoder has positions after its
        start (a tiny test decoder's 32 would otherwise fail at the 32nd step)."""
        positions = self.model.max_target_length
        if positions is None:
            return config
        room = positions - len(self.model.start_ids) + 1
        if config.max_length <= room:
            return config
        return replace(config, max_length=room, min_length=min(config.min_length, room))

    # -- inputs ------------------------------------------------------------
    def source_ids(self, text: str) -> list[int]:
        raise InputTextError("this is a captioning model: give it an image, not text")

    def source_pieces(self, text: str) -> tuple[str, ...]:
        raise InputTextError("this is a captioning model: give it an image, not text")

    def encode_texts(self, texts: list[str]):
        raise InputTextError("this is a captioning model: give it an image, not text")

    def encode_images(
        self, images: list[ImageSource | np.ndarray]
    ) -> tuple[VisionMemory, list[np.ndarray]]:
        """The memory of a batch of pictures (paths, bytes or RGB arrays) and each picture
        as the views show it, (H, W, 3) uint8 (the module docstring)."""
        pictures = [self._picture(image) for image in images]
        pixels = self.pixel_values(pictures)  # (N, 3, H, W)
        with torch.inference_mode():
            memory = self.model.encode(pixels.to(self.device))
        if self._crops:
            return memory, [self.model_view(row) for row in pixels]
        return memory, [np.asarray(p) for p in pictures]

    def pixel_values(self, pictures: list[Any]) -> torch.Tensor:
        """RGB PIL pictures -> (N, 3, H, W) float32 through the folder's image processor."""
        try:
            batch = self.processor(images=pictures, return_tensors="pt")
        except (ValueError, TypeError, OSError) as exc:  # settings the processor rejects
            raise HfFolderError(
                f"{display_path(self.source_path)}: its image processor cannot read the "
                f"picture: {exc}"
            ) from exc
        return batch["pixel_values"].float()

    def model_view(self, pixels: torch.Tensor) -> np.ndarray:
        """(3, H, W) normalised pixel values -> the (H, W, 3) uint8 picture they show."""
        processor = self.processor
        mean = torch.tensor(processor.image_mean).view(-1, 1, 1)
        std = torch.tensor(processor.image_std).view(-1, 1, 1)
        values = pixels * std + mean if processor.do_normalize else pixels
        if processor.do_rescale:
            values = values / processor.rescale_factor
        return values.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()

    def with_prompt(self, prompt: str) -> HfCaptionModel:
        """This model with captions continuing ``prompt`` (BLIP's "a picture of"): the
        first step feeds the start token and the prompt's tokens; the caption is what
        comes after it. An empty prompt: the start token alone."""
        ids = self.hf.tokenizer(prompt, add_special_tokens=False).input_ids if prompt else []
        start = self.model.start_ids[:1].tolist() + list(ids)
        positions = self.model.max_target_length
        if positions is not None and len(start) >= positions:
            raise InputTextError(
                f"the prompt makes {len(ids)} tokens; this decoder has {positions} positions"
            )
        step_model = VisionStepModel(self.hf.model, self.hf.vocab, start_ids=start)
        return type(self)(replace(self.hf, step_model=step_model), self.device)
