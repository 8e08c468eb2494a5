"""The decoding commands' thread count: idle cores by default, --threads / env to override."""

import pytest
import torch

from attnscope.engine import cpu_threads
from attnscope.engine.cli import main


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [(2, 0.1, 2), (2, 0.7, 1), (2, 1.2, 1), (2, 9.0, 1), (8, 2.4, 6), (4, None, 4)],
)
def test_a_decode_takes_the_cores_left_idle(cores, load, threads):
    assert cpu_threads.idle_cores(cores, load) == threads


def test_the_option_wins_over_the_environment_which_wins_over_the_rule(monkeypatch):
    monkeypatch.setenv(cpu_threads.THREADS_ENV, "3")
    assert cpu_threads.decode_threads(2) == 2
    assert cpu_threads.decode_threads() == 3
    monkeypatch.delenv(cpu_threads.THREADS_ENV)
    monkeypatch.setattr(cpu_threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert cpu_threads.decode_threads() == cpu_threads.usable_cores()


@pytest.mark.parametrize(
    ("value", "name"), [("two", "ATTNSCOPE_THREADS"), ("0", "ATTNSCOPE_THREADS")]
)
def test_a_bad_environment_value_is_named(monkeypatch, value, name):
    monkeypatch.setenv(cpu_threads.THREADS_ENV, value)
    with pytest.raises(ValueError, match=name):
        cpu_threads.decode_threads()


def test_translate_threads_option_sets_torch_and_a_bad_one_is_refused(
    tiny_translation_checkpoint, tmp_path, capsys
):
    source = tmp_path / "in.txt"
    source.write_text("ein mann .\n", encoding="utf-8")
    args = ["translate", "-c", str(tiny_translation_checkpoint), "-i", str(source)]
    before = torch.get_num_threads()
    try:
        assert main([*args, "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert main([*args, "--threads", "0"]) == 2
    assert "--threads must be between 1 and 256, got 0" in capsys.readouterr().err
