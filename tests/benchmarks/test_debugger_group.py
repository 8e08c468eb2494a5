"""`attnscope bench` reports issue 18's two debugger figures (breakpoint check cost, first
token after an attention edit) as a figure group of its own, skippable like the others."""

from benchmarks.command import FIGURE_GROUPS, GROUP_KEYS, SKIPPABLE
from benchmarks.report import TOP_LEVEL_KEYS, BenchContext, Report


def test_the_debugger_group_measures_both_figures(tiny_translation_checkpoint):
    assert "debugger" in SKIPPABLE
    assert set(GROUP_KEYS["debugger"]) <= set(TOP_LEVEL_KEYS)
    ctx = BenchContext(
        sizes=None,
        threads=1,
        checkpoint=str(tiny_translation_checkpoint),
        peer_python=None,
        size="tiny",
    )
    report = Report(size="tiny")
    FIGURE_GROUPS["debugger"](ctx, report)
    ratio = report.values["breakpoint_check_vs_step_ratio"]
    assert ratio is not None and ratio > 0
    assert report.figures["breakpoints"]["steps"] > 0
    assert report.values["what_if_first_token_ms"] > 0
    assert len(report.figures["what_if_first_token_ms"]) >= 3  # a spread, not one number
