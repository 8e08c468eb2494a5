"""Corpus figures of a comparison, over every input compared: ``CompareSummary``.

Per-token log-probs are pooled over the corpus (total log-prob / total tokens, eos
counted), so long lines weigh more, as `attnscope score` pools them; the attention
figures are means over the lines whose attention could be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from attnscope.engine.compare.inputs import InputComparison


@dataclass
class _Pooled:
    """A log-prob total over a token count."""

    log_prob: float = 0.0
    tokens: int = 0

    def add(self, log_prob: float, tokens: int) -> None:
        self.log_prob += log_prob
        self.tokens += tokens

    def describe(self) -> str:
        return f"{self.log_prob / self.tokens:.3f}" if self.tokens else "-"


@dataclass
class CompareSummary:
    """Running totals; ``add`` each compared input, ``skip`` each refused one."""

    compared: int = 0
    skipped: int = 0
    identical: int = 0
    a_by_a: _Pooled = field(default_factory=_Pooled)
    a_by_b: _Pooled = field(default_factory=_Pooled)
    b_by_b: _Pooled = field(default_factory=_Pooled)
    b_by_a: _Pooled = field(default_factory=_Pooled)
    jsd: list[float] = field(default_factory=list)
    top1: list[float] = field(default_factory=list)

    def add(self, result: InputComparison) -> None:
        own_a, own_b = result.outputs
        self.compared += 1
        self.identical += own_a.target_text == own_b.target_text
        log_a, log_b = result.own_log_probs
        self.a_by_a.add(log_a, len(own_a.steps))
        self.b_by_b.add(log_b, len(own_b.steps))
        if result.b_scores_a is not None:
            report = result.b_scores_a.report
            self.a_by_b.add(report.log_prob, len(report.pieces))
        if result.a_scores_b is not None:
            report = result.a_scores_b.report
            self.b_by_a.add(report.log_prob, len(report.pieces))
        if result.attention is not None:
            self.jsd.append(result.attention.mean_jsd)
            self.top1.append(result.attention.top1_agreement)

    def skip(self) -> None:
        self.skipped += 1

    def describe(self) -> str:
        """One paragraph for stderr."""
        total = self.compared + self.skipped
        if not self.compared:
            return f"attnscope: no line compared ({total} lines)"
        text = (
            f"attnscope: compared {self.compared} of {total} lines, "
            f"{self.identical} with identical outputs; log-prob per token: "
            f"A's outputs {self.a_by_a.describe()} under A, {self.a_by_b.describe()} under B; "
            f"B's outputs {self.b_by_b.describe()} under B, {self.b_by_a.describe()} under A"
        )
        if self.jsd:
            text += (
                f"; attention on {len(self.jsd)} lines: mean JSD "
                f"{sum(self.jsd) / len(self.jsd):.3f} bits, top-1 agreement "
                f"{sum(self.top1) / len(self.top1):.0%}"
            )
        else:
            text += "; attention not compared (see the notes)"
        return text
