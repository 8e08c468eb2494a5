"""Print a digest of the bundled models' decodes, to check that a refactor changed no bit.

    python scripts/decode_digest.py > before.txt   # on the old commit
    python scripts/decode_digest.py > after.txt    # on the new one
    diff before.txt after.txt                      # empty: bit-identical

For every checkpoint in resources/checkpoints and greedy, beam 5 and sampling (seed 7):
the batch path (``translate`` / ``caption``) and the step-wise session path (stepped to
the end). Each line hashes the tokens, the float32 scores, per-token log-probs and the
attention bytes, so any change in any bit shows. Runs on the CPU with one thread.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "resources" / "checkpoints"
EXAMPLES = ROOT / "resources" / "examples"
IMAGES = ("astronaut.jpg", "coffee.jpg", "shapes-three.png", "shapes-two.png")


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if part is None:
            h.update(b"none")
        elif isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:16]


def _hypothesis_digest(result) -> str:
    parts = []
    for hyp in result.hypotheses:
        parts += [hyp.tokens, np.float32(hyp.score), hyp.token_log_probs, hyp.attention]
    return _digest(*parts)


def _configs():
    from attnscope.engine.decoding import DecodeConfig

    return {
        "greedy": DecodeConfig(strategy="greedy"),
        "beam5": DecodeConfig(strategy="beam", beam_size=5, n_best=3),
        "sample": DecodeConfig(strategy="sampling", seed=7, top_k=20),
    }


def _session_result(model, source, config):
    """Step a session to the end; its DecodeResult."""
    opened = model.open_session(source, config)
    session = getattr(opened, "session", opened)
    while not session.done:
        session.step()
    return session.result()


def main() -> None:
    from attnscope.engine.inference import load_inference_model

    torch.set_num_threads(1)
    for path in sorted(CHECKPOINTS.glob("*.safetensors")):
        model = load_inference_model(path, device="cpu")
        if model.task == "translation":
            lang = "zh" if "zh" in path.name else "de"
            lines = (EXAMPLES / f"sentences_{lang}.txt").read_text(encoding="utf-8").splitlines()
            sources = [line for line in lines if line.strip()][:6]
        else:
            sources = [str(EXAMPLES / name) for name in IMAGES]
        for name, config in _configs().items():
            if model.task == "translation":
                batch = model.translate(sources, config, batch_size=4)
                for i, t in enumerate(batch):
                    print(path.name, name, "batch", i, t.text, _digest(t.pieces, t.attention))
            for i, source in enumerate(sources):
                if model.task == "captioning":
                    c = model.caption(source, config)
                    print(path.name, name, "caption", i, c.text, _digest(c.pieces, c.attention))
                result = _session_result(model, source, config)
                print(path.name, name, "session", i, _hypothesis_digest(result))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
