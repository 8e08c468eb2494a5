"""The committed OpenNMT-py 3.5.1 fixtures (tests/data/onmt/, made by
scripts/make_onmt_fixture.sh) and readers of what onmt_translate recorded."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attnscope.engine.onmt.reader import read_onmt_checkpoint

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "onmt"
MODELS = ("lstm_brnn_general", "gru_mlp_tied", "lstm_dot_shared", "gru_general_st")
_HEADER_INDENT = " " * 10  # report_matrix's empty corner, "{:>10.10}"


@dataclass(frozen=True)
class AttentionReport:
    """One -attn_debug matrix: source tokens, output tokens, weights (T, S)."""

    source: list[str]
    output: list[str]
    weights: np.ndarray


def read_attn_debug(path: Path) -> list[AttentionReport]:
    """The matrices onmt_translate -attn_debug logged, in input order (batch size 1).

    A matrix is report_matrix's output: a header of source tokens indented by ten spaces,
    then one row per output token (its label, then one weight per source token).
    """
    reports, lines = [], path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if not line.startswith(_HEADER_INDENT) or not line.strip():
            continue
        source, output, rows = line.split(), [], []
        for row in lines[index + 1 :]:
            fields = row.split()
            if len(fields) != len(source) + 1:
                break
            output.append(fields[0])
            rows.append([float(value) for value in fields[1:]])
        reports.append(AttentionReport(source, output, np.array(rows, dtype=np.float64)))
    return reports


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def checkpoint_dict(name: str, **changes) -> dict:
    """Fixture ``name``'s checkpoint contents (read safely) as OpenNMT-py lays them out,
    with ``changes`` applied: ``torch.save`` it to make a variant."""
    real = read_onmt_checkpoint(FIXTURES / name / "model.pt")
    model = {k: v for k, v in real.weights.items() if not k.startswith("generator.")}
    generator = {k[len("generator.") :]: v for k, v in real.weights.items() if k not in model}
    data = {
        "model": model,
        "generator": generator,
        "vocab": {"src": real.src_vocab, "tgt": real.tgt_vocab, "data_task": "seq2seq"},
        "opt": argparse.Namespace(**real.options),
        "optim": {},
    }
    return data | changes
