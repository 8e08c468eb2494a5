"""OpenNMT-py RNN checkpoints, read without unpickling and mapped onto AttnScope's models.

- ``convert.convert_onmt(MODEL.pt, OUT.safetensors)`` is ``attnscope import-onmt``;
  ``convert.import_onmt`` gives the model in memory;
- ``reader.read_onmt_checkpoint`` reads one safely; ``options``, ``weights`` and
  ``vocab_tokenizer`` map its parts;
- ``detect.looks_like_onmt_checkpoint`` tells the app a ``.pt`` is one (torch-free).

This package's ``__init__`` imports nothing, so the GUI can use ``detect`` at start-up
cost zero. See docs/opennmt.md.
"""
