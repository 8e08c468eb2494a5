"""Retake the README's screenshots of the translation workspace on the bundled de→en model
(and docs/huggingface.md's layer × head grid on a tiny random Marian folder built here).

Run from the repository root under an X server (Xvfb gives real fonts; the offscreen
platform draws no text in some set-ups)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/readme_screenshots.py
    .venv/bin/python scripts/readme_screenshots.py --only breakpoint coverage --out /tmp/shots

Each scene opens a fresh main window at the default size (1280x820) on settings in a
temporary folder, so nothing a user kept (layout, source, breakpoints, the autosaved
decode) changes what it shows. It prints what each picture shows (the figures the
README's captions quote).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "resources" / "checkpoints" / "deen-bahdanau.safetensors"
NO_ATTENTION = ROOT / "resources" / "checkpoints" / "deen-noattn.safetensors"
RUN = ROOT / "runs" / "reverse" / "run"  # the epochs scene's run folder (--run; README)
RUN_EXAMPLE = "c a f e b d"  # the toy reverse task's input: the output is "d b e f a c"
RUN_EPOCH_INDEX = 1  # the slider's position in the picture (epoch 2 of 6)
REFERENCE = "A man wearing a red helmet is riding his bike down a steep forest trail."
KITCHEN = "Ein Koch schneidet in einer Restaurantküche Gemüse."
UNCOVERED_LIMIT = 0.30  # the README's breakpoint and coverage captions quote this limit
TIMEOUT_S = 120.0
HF_EXAMPLE = "the big red house on the green tree"  # words of the tiny tokenizer
HF_SEED = 0
HF_MAX_LENGTH = 8


def _wait(app: QApplication, done: Callable[[], bool], what: str) -> None:
    """Run the event loop until ``done()``; a scene that hangs fails with ``what``."""
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def _settle(app: QApplication, seconds: float = 0.5) -> None:
    """Let queued paints, the frame scheduler and the beam tree's layout finish."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def _window(app: QApplication, source: str | None = None, checkpoint: Path = CHECKPOINT):
    """A main window at the default size, ``source`` (else the model's example) decoded
    on load with the model's recommended settings."""
    from attnscope.gui.main_window import MainWindow
    from attnscope.gui.window_settings import DEFAULT_SIZE

    folder = tempfile.mkdtemp(prefix="attnscope-shots-")
    settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, device="cpu")
    window.resize(*DEFAULT_SIZE)
    window.show()
    if source is not None:
        window.translate_view.set_source(source)
    window.load_checkpoint(str(checkpoint))
    _wait(app, lambda: window.state.summary is not None, "the checkpoint")
    _wait_done(app, window)
    return window


def _wait_done(app: QApplication, window) -> None:
    run, state = window.decode_actions.run, window.state
    _wait(app, lambda: state.snapshot is not None and state.snapshot.done, "a finished decode")
    _wait(app, lambda: not run.isChecked(), "Run to be released")


def _run(app: QApplication, window) -> None:
    window.decode_actions.run.setChecked(True)
    window.toggle_run()


def _save(app: QApplication, widget, path: Path) -> None:
    _settle(app)
    widget.grab().save(str(path))
    print(f"wrote {path} ({widget.width()}x{widget.height()})")


def translate(app: QApplication, out: Path) -> None:
    """The first screen: the example decoded on load."""
    window = _window(app)
    snapshot = window.state.snapshot
    print(f"  {len(snapshot.source_pieces)} source pieces, {len(snapshot.steps)} steps")
    _save(app, window, out / "screenshot-translate.png")
    window.close()


def reference(app: QApplication, out: Path) -> None:
    """Check a reference, with step 3 (the first where the model preferred another token)."""
    window = _window(app)
    own = window.state.snapshot
    window.reference_check.check(REFERENCE)
    _wait(app, lambda: window.state.report is not None, "the reference report")
    _settle(app)
    window.select_step(2)
    print(f"  {window.state.report.describe()}")
    print(f"  own output: {' '.join(s.piece for s in own.steps)}")
    _save(app, window, out / "screenshot-reference.png")
    window.close()


def _greedy_stop(app: QApplication):
    """The kitchen sentence, greedy, run until 'uncovered at EOS' stops it."""
    window = _window(app, KITCHEN)
    window.decode_settings.set_values({"strategy": "greedy"})
    dock = window.breakpoints_dock
    dock.set_value("uncovered_at_eos", "threshold", UNCOVERED_LIMIT)
    dock.set_checked("uncovered_at_eos", True)
    window.docks["breakpoints"].raise_()
    _run(app, window)
    _wait(app, lambda: window.state.breakpoint_hit is not None, "the breakpoint")
    _wait(app, lambda: not window.decode_actions.run.isChecked(), "Run to be released")
    print(f"  {window.state.breakpoint_hit.message}")
    return window


def _coverage_line(heatmap) -> str:
    pairs = zip(heatmap.source_tokens(), heatmap.coverage(), strict=True)
    return ", ".join(f"{token} {value:.2f}" for token, value in pairs)


def breakpoint(app: QApplication, out: Path) -> None:
    window = _greedy_stop(app)
    _settle(app)
    print(f"  coverage at the stop: {_coverage_line(window.translate_view.heatmap)}")
    _save(app, window, out / "screenshot-breakpoint.png")
    window.close()


def coverage(app: QApplication, out: Path) -> None:
    """The breakpoint's decode with step 7 ('restaurant') selected: the heat map alone."""
    window = _greedy_stop(app)
    window.select_step(6)
    _settle(app)
    heatmap = window.translate_view.heatmap
    print(f"  coverage after step 7: {_coverage_line(heatmap)}")
    _save(app, heatmap, out / "screenshot-coverage.png")
    window.close()


def what_if(app: QApplication, out: Path) -> None:
    """Greedy to the end, then step 5's attention pinned on 'Gemüse' and applied."""
    window = _window(app, KITCHEN)
    window.decode_settings.set_values({"strategy": "greedy"})
    _run(app, window)
    _wait(app, lambda: window.state.decode_config.strategy == "greedy", "the greedy session")
    _wait_done(app, window)
    column = next(
        i for i, token in enumerate(window.translate_view.heatmap.source_tokens()) if "Gem" in token
    )
    editor = window.debugger.what_if
    window.select_step(4)
    _settle(app)
    editor.editor.pin(column)
    editor.apply()
    state = window.state
    _wait(
        app,
        lambda: state.what_if is not None and state.what_if.diff is not None,
        "the what-if's diff",
    )
    _wait_done(app, window)
    print(f"  {state.what_if.diff.describe()}")
    print(f"  now: {' '.join(s.piece for s in state.snapshot.steps)}")
    _save(app, window.translate_view, out / "screenshot-whatif.png")
    window.close()


def explain(app: QApplication, out: Path) -> None:
    """The Explain panel (Ctrl+Alt+E): input x gradient over the whole output beside the
    attention, the step of "helmet" selected; the panel floats at its default size."""
    window = _window(app)
    tools, state = window.explain_tools, window.state
    tools.panel.set_method("input_x_gradient")
    start = time.monotonic()
    tools.explain("output")
    _wait(app, lambda: tools.controller.answers > 0, "the attribution")
    print(f"  input x gradient, whole output: {time.monotonic() - start:.1f} s in the app")
    pieces = [step.piece for step in state.snapshot.steps]
    window.select_step(next(i for i, p in enumerate(pieces) if "helmet" in p))
    print(f"  {tools.panel.agreement_label.text()}")
    _save(app, tools.panel, out / "screenshot-explain.png")
    window.close()


def compare(app: QApplication, out: Path) -> None:
    """Compare mode (Ctrl+Shift+C): the default model against deen-noattn on the example,
    both decoded to the end in lockstep with the recommended beam 5."""
    window = _window(app)
    pairs: list = []
    window.compare.pairShown.connect(pairs.append)
    window.compare.enter(str(NO_ATTENTION))
    _wait(app, lambda: bool(pairs) and pairs[-1].a_by_b is not None, "the compared pair")
    pair = pairs[-1]
    for side, own, cross in (("A", pair.a, pair.a_by_b), ("B", pair.b, pair.b_by_a)):
        log_prob = sum(step.log_prob for step in own.steps)
        print(
            f"  {side}: {own.target_text}  log p {log_prob:.2f}, by the other {cross.log_prob:.2f}"
        )
    _save(app, window, out / "screenshot-compare.png")
    window.close()


def epochs(app: QApplication, out: Path) -> None:
    """File > Open run folder on ``--run`` (the README's short run of the toy reverse task):
    the final epoch's output traced through every kept epoch, the slider at epoch 2."""
    from attnscope.gui.main_window import MainWindow
    from attnscope.gui.window_settings import DEFAULT_SIZE

    folder = tempfile.mkdtemp(prefix="attnscope-shots-")
    window = MainWindow(settings=QSettings(f"{folder}/settings.ini", QSettings.IniFormat))
    window.resize(*DEFAULT_SIZE)
    window.show()
    window.translate_view.set_source(RUN_EXAMPLE)
    window.load_checkpoint(str(RUN / "last.safetensors"))
    _wait(app, lambda: window.state.summary is not None, "the run's last checkpoint")
    traces: list = []
    window.epochs.traced.connect(traces.append)
    window.epochs.open_folder(str(RUN))
    _wait(app, lambda: bool(traces), "the trace through the epochs")
    trace = traces[-1]
    for epoch in trace.epochs:
        print(f"  epoch {epoch.epoch}: log p {epoch.log_prob:.2f}, entropy {epoch.entropy:.3f}")
    view = window.epochs.view
    view.slider.setValue(RUN_EPOCH_INDEX)
    _save(app, window, out / "screenshot-epochs.png")
    window.epochs.export_gif(out / "epochs.gif")
    window.close()


def _tiny_marian(folder: Path) -> Path:
    """A tiny random Marian folder (3 decoder layers × 4 heads, d_model 32) with the tests'
    word tokenizer (tests/engine/hf/tiny_models.py), saved with save_pretrained."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    sys.path.insert(0, str(ROOT))
    from tests.engine.hf.tiny_models import word_tokenizer

    tokenizer = word_tokenizer("marian")
    size = len(tokenizer)
    torch.manual_seed(HF_SEED)
    config = MarianConfig(
        vocab_size=size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=3,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=size - 1,
        eos_token_id=0,
        decoder_start_token_id=size - 1,
        forced_eos_token_id=None,
    )
    model = MarianMTModel(config).eval()
    with torch.no_grad():  # outputs that depend on the input, attention that is not flat
        for name, parameter in model.named_parameters():
            if not name.endswith(("layer_norm.weight", "embed_positions.weight")):
                std = 1.0 if name.endswith(("q_proj.weight", "k_proj.weight")) else 0.4
                parameter.normal_(0.0, std)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hfgrid(app: QApplication, out: Path) -> None:
    """File > Open folder on a tiny random Marian folder built here (no download): the heat
    map's grid of its decoder's layers × heads (docs/huggingface.md)."""
    from attnscope.gui.heatmap import HEAD_GRID

    folder = _tiny_marian(Path(tempfile.mkdtemp(prefix="attnscope-hf-")) / "tiny-marian")
    window = _window(app, source=HF_EXAMPLE, checkpoint=folder)
    window.decode_settings.set_values({"max_length": HF_MAX_LENGTH})  # a random model rambles
    window.reset()
    _run(app, window)
    _wait_done(app, window)
    heatmap = window.translate_view.heatmap
    heatmap.set_head_mode(HEAD_GRID)
    summary, snapshot = window.state.summary, window.state.snapshot
    print(f"  {summary.layers} layers × {summary.heads_per_layer} heads: {snapshot.target_text}")
    _save(app, window, out / "screenshot-hf-grid.png")
    window.close()


SCENES = {
    "translate": translate,
    "reference": reference,
    "breakpoint": breakpoint,
    "coverage": coverage,
    "whatif": what_if,
    "explain": explain,
    "compare": compare,
    "epochs": epochs,
    "hfgrid": hfgrid,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder to write to")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENES), help="these scenes only")
    parser.add_argument("--run", type=Path, default=RUN, help="the epochs scene's run folder")
    args = parser.parse_args(argv)
    globals()["RUN"] = args.run
    app = QApplication.instance() or QApplication(sys.argv[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or SCENES:
        print(name)
        SCENES[name](app, args.out)
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
