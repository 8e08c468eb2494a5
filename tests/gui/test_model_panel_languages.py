"""A multilingual folder's language combos in the model panel, and the worker's answer to
a choice: the model announced again (so the window decodes anew), or one refusal."""

from __future__ import annotations

import threading

from attnscope.engine.hf.multilingual import LanguageError
from attnscope.engine.inference_results import ModelSummary
from attnscope.gui.model_panel import ModelPanel
from attnscope.gui.worker import ModelWorker

PAIR = {
    "source": "eng_Latn",
    "target": "fra_Latn",
    "target_token": "forced first token",
    "codes": ["eng_Latn", "fra_Latn", "deu_Latn"],
}


def _summary(info):
    return ModelSummary(
        path="/tmp/nllb",
        name="nllb",
        task="translation",
        architecture="M2M100 2+2 layers",
        attention="scaled dot-product (cross)",
        heads=4,
        parameters=1000,
        src_vocab=100,
        tgt_vocab=100,
        device="cpu",
        info=info,
        examples=(),
        target_vocab=(),
        layers=2,
    )


def test_the_combos_show_a_multilingual_folders_pair_and_send_a_choice(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    layout = panel.layout()
    panel.set_summary(_summary({"language_pair": PAIR}))
    for combo, chosen in ((panel.source_language, "eng_Latn"), (panel.target_language, "fra_Latn")):
        assert layout.isRowVisible(combo)
        assert [combo.itemText(i) for i in range(combo.count())] == PAIR["codes"]
        assert combo.currentText() == chosen
    assert panel.labels["languages"].text() == "eng_Latn → fra_Latn (of 3 codes)"
    with qtbot.waitSignal(panel.languagesChosen) as chosen:
        panel.target_language.setCurrentIndex(2)
        panel.target_language.activated.emit(2)  # what a user's pick emits
    assert chosen.args == ["eng_Latn", "deu_Latn"]
    panel.set_summary(_summary({}))  # a model with no language choice
    assert not layout.isRowVisible(panel.source_language)
    assert not layout.isRowVisible(panel.target_language)


class _Model:
    """What the worker needs of a multilingual HfInferenceModel."""

    def __init__(self) -> None:
        self.model = object()  # no int8 network
        self.pair = ("eng_Latn", "fra_Latn")

    def set_languages(self, *, source, target):
        if target not in PAIR["codes"]:
            raise LanguageError(f"unknown target language {target!r}")
        self.pair = (source, target)

    def summary(self):
        source, target = self.pair
        return _summary({"language_pair": PAIR | {"source": source, "target": target}})


def test_the_worker_announces_the_model_again_or_refuses_once():
    worker = ModelWorker(threading.Event())
    worker._model = _Model()
    loaded, failed = [], []
    worker.loaded.connect(loaded.append)
    worker.failed.connect(failed.append)
    worker.set_languages("fra_Latn", "deu_Latn")
    assert loaded[-1].info["language_pair"]["target"] == "deu_Latn"
    worker.set_languages("fra_Latn", "klingon")
    assert len(loaded) == 1
    assert len(failed) == 1 and "unknown target language 'klingon'" in failed[0]


def test_the_window_sends_a_language_choice_to_its_worker(window, qtbot):
    """The panel's choice reaches the worker thread (with no model loaded: one refusal)."""
    with qtbot.waitSignal(window.client.worker.failed, timeout=10_000) as refused:
        window.model_panel.languagesChosen.emit("eng_Latn", "deu_Latn")
    assert "No checkpoint is loaded" in refused.args[0]
