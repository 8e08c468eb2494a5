"""A fake attribution engine for the Explain panel's GUI tests, and helpers to drive it.

The fake stands in for ``attnscope.engine.explain`` (gui/explain_job.py's
``load_engine``): it returns known scores, score[row, j] = 100 * (step + 1) + j
(+ 0.5 with a foil), and for a picture per-pixel values rising left to right,
reports progress, and can be held until it is cancelled, so
the tests check what the panel does with an answer, not the attribution itself.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
from window_support import TIMEOUT

from attnscope.engine.errors import DecodeCancelled
from attnscope.gui import explain_job


def expected_row(step: int, width: int, foil: int | None = None) -> np.ndarray:
    """The fake's scores of ``step`` over ``width`` source positions."""
    return 100.0 * (step + 1) + np.arange(width) + (0.5 if foil is not None else 0.0)


class FakeEngine:
    """``explain`` and ``agreement`` with the engine's signatures; ``calls`` records the
    (method, steps, foil) of each call; ``hold`` makes a call wait until cancelled; ``refusal`` is raised by the next one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...], int | None]] = []
        self.hold = False
        self.refusal: Exception | None = None  # raised by the next call, then forgotten
        self.started = threading.Event()

    def explain(self, model, source, tokens, *, method, steps=None, foil=None, **options):
        self.calls.append((method, tuple(steps), foil))
        self.started.set()
        refusal, self.refusal = self.refusal, None
        if refusal is not None:
            raise refusal
        width = self._width(model, source)
        progress, cancel = options["progress"], options["cancel"]
        if self.hold and cancel.wait(TIMEOUT / 1000):  # the worker's threading.Event
            raise DecodeCancelled("attribution cancelled")
        for done in range(1, len(steps) + 1):
            progress(done, len(steps))
        scores = np.stack([expected_row(s, width, foil) for s in steps])
        return SimpleNamespace(scores=scores, pixels=self._pixels(source, len(steps)))

    @staticmethod
    def agreement(attention_row, attribution_row):
        same = int(np.argmax(attention_row)) == int(np.argmax(np.abs(attribution_row)))
        return SimpleNamespace(spearman=0.25, top1=same, jsd=0.125)

    @staticmethod
    def _pixels(source, count: int) -> np.ndarray | None:
        """For a picture (H, W, 3): per pixel, a ramp from left to right."""
        if isinstance(source, str):
            return None
        height, width = source.shape[:2]
        return np.broadcast_to(np.linspace(0, 1, width), (count, height, width)).copy()

    @staticmethod
    def _width(model, source) -> int:
        if isinstance(source, str):
            return len(model.src_tokenizer.pieces(source)) + 1  # + eos, as the session's
        memory, _ = model.encode_images([source])
        return int(memory.grid[0] * memory.grid[1])


def use_fake_engine(monkeypatch) -> FakeEngine:
    engine = FakeEngine()
    monkeypatch.setattr(explain_job, "load_engine", lambda: engine)
    return engine


def explain_and_wait(qtbot, window, scope: str) -> None:
    """Explain ``scope`` (Ctrl+E's or Ctrl+Alt+E's action) and wait for the answer shown."""
    controller = window.explain_tools.controller
    before = controller.answers
    window.explain_tools.explain(scope)
    qtbot.waitUntil(lambda: controller.answers > before, timeout=TIMEOUT)
