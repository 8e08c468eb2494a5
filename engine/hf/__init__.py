"""Hugging Face encoder–decoders opened from a local ``save_pretrained`` folder.

Offline only: nothing is downloaded, remote code is never run, weights come from
safetensors. ``transformers`` is imported only when a folder is opened, so the app's
start-up and ``attnscope --help`` never pay for it (this package imports nothing).
See docs/huggingface.md.

- ``folder``: ``read_hf_folder`` checks a folder from its files alone (``HfFolderError``);
- ``loading``: ``load_hf_folder`` builds the model, tokenizer and step model;
- ``step_model``: ``HfStepModel``, the model in the step-model protocol (KV cache state);
- ``vocab_map``: ``HfVocabMap``, AttnScope's special ids over the model's vocabulary;
- ``text``: ``HfText``, the folder's tokenizer on both sides.

Captioners (VisionEncoderDecoder, BLIP; docs/hf-captioning.md):

- ``vision_folder``: the checks of their nested configs and image processor settings;
- ``vision``: ``VisionStepModel``, attention over the encoder's patch grid;
- ``vision_inference``: ``HfCaptionModel``, a picture in through the app's one loader.
"""
