"""Hugging Face encoder–decoders opened from a local ``save_pretrained`` folder.

Offline only: nothing is downloaded, remote code is never run, weights come from
safetensors. ``transformers`` is imported only when a folder is opened, so the app's
start-up and ``attnscope --help`` never pay for it. See docs/huggingface.md.
"""
