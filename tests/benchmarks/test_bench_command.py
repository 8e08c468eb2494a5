"""`attnscope bench` finds the checkout's benchmarks, and says what it needs without one."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from attnscope.engine.cli import main
from attnscope.engine.commands import bench as bench_command

CHECKOUT = Path(__file__).resolve().parents[2]


def test_the_checkout_is_found_and_its_benchmarks_take_the_arguments(capsys):
    assert bench_command.checkout_root() == CHECKOUT
    with pytest.raises(SystemExit) as done:
        main(["bench", "--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    for flag in ("--quick", "--tiny", "--json", "--threads", "--checkpoint", "--skip"):
        assert flag in usage


def test_an_installed_wheel_says_in_one_line_that_bench_needs_a_checkout(monkeypatch, capsys):
    monkeypatch.setattr(bench_command, "checkout_root", lambda: None)
    with pytest.raises(SystemExit) as done:  # flags it cannot know are no usage error
        main(["bench", "--quick", "--skip", "gui"])
    assert done.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [bench_command.NEEDS_CHECKOUT]
    assert "source checkout" in err and "make bench" in err
    assert bench_command.run(argparse.Namespace()) == 2
    assert capsys.readouterr().err.splitlines() == [bench_command.NEEDS_CHECKOUT]


def test_a_folder_without_benchmarks_is_no_checkout(monkeypatch, tmp_path):
    """What a wheel looks like: the attnscope package in a folder with no benchmarks/."""
    import attnscope

    package = tmp_path / "site-packages" / "attnscope"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.setattr(attnscope, "__file__", str(package / "__init__.py"))
    assert bench_command.checkout_root() is None
