"""Command-line progress (issue 23 item 9): tqdm bars on a terminal's stderr with rate and
ETA, nested for score and evaluate; nothing on a non-terminal stderr; stdout results only."""

from __future__ import annotations

import io

import pytest

from attnscope.engine.cli import main
from attnscope.engine.commands.common import progress_bar

LINES = ["ein mann fährt fahrrad .", "", "zwei hunde spielen im schnee ."]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def src_file(tmp_path):
    path = tmp_path / "src.txt"
    path.write_text("".join(f"{line}\n" for line in LINES), encoding="utf-8")
    return path


def test_a_terminal_gets_a_bar_with_rate_and_the_results_stay_on_stdout(
    tiny_translation_checkpoint, src_file, capsys, monkeypatch
):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    args = ["translate", "-c", str(tiny_translation_checkpoint), "-i", str(src_file)]
    assert main([*args, "--max-length", "6", "--batch-size", "2"]) == 0
    drawn = terminal.getvalue()
    assert "translate: 100%" in drawn and "3/3" in drawn and "lines/s" in drawn
    out = capsys.readouterr().out
    assert out.count("\n") == len(LINES) and "%" not in out  # results only


def test_a_non_terminal_stderr_gets_no_bar(tiny_translation_checkpoint, src_file, capsys):
    args = ["translate", "-c", str(tiny_translation_checkpoint), "-i", str(src_file)]
    assert main([*args, "--max-length", "6"]) == 0
    assert capsys.readouterr().err == ""


def test_score_nests_the_model_outputs_under_the_pairs(
    tiny_translation_checkpoint, src_file, tmp_path, capsys, monkeypatch
):
    ref = tmp_path / "ref.txt"
    ref.write_text("a man .\n\ntwo dogs .\n", encoding="utf-8")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    args = ["score", "-c", str(tiny_translation_checkpoint), "--src", str(src_file)]
    assert main([*args, "--ref", str(ref), "--max-length", "6"]) == 0
    drawn = terminal.getvalue()
    assert "model outputs:" in drawn and "score: 100%" in drawn and "pairs/s" in drawn
    assert len(capsys.readouterr().out.splitlines()) == len(LINES)


def test_a_nested_bar_is_drawn_on_the_line_below_and_cleared(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    outer = progress_bar(2, "stages", desc="evaluate")
    inner = progress_bar(5, "lines", desc="translate", nested=True)
    inner.update(5)
    inner.refresh()
    drawn_inner = terminal.getvalue()
    inner.close()
    outer.update(2)
    outer.close()
    # position 1: tqdm steps down a line, draws, and moves the cursor back up ("\x1b[A")
    assert "\n\rtranslate: 100%" in drawn_inner and "\x1b[A" in drawn_inner
    assert not inner.leave and outer.leave
    assert "evaluate: 100%" in terminal.getvalue()
