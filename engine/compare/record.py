"""An ``InputComparison`` as JSON-ready data: what ``attnscope compare --json`` prints.

Built on the decode record (engine/decode_record.py, docs/decode-record.md): each model's
own decode is a full decode record (``snapshot_record``: pieces, per-step log-probs and
top-k, attention (T, layers, heads, S), word alignment), and the comparison adds, per input:

- ``cross_scores``: ``b_scores_a`` / ``a_scores_b``, each the ``attnscope score --json``
  report of one model's output under the other (pieces, ``token_log_probs``, ``log_prob``,
  perplexity, disagreements), null where the model could not take it;
- ``reference``: the reference scored by each model (when given);
- ``diff``: the word diff of the two outputs (engine/decode_diff.py ``to_dict``);
- ``attention``: the attention comparison (engine/compare/attention.py ``to_dict``:
  level, rows, columns, both (R, C) matrices, per-row JSD and top-1 match, means), null
  with the reason in ``notes`` when it could not be made.

Floats are rounded and non-finite ones written as null by ``to_jsonable``, as in every
decode record; ``json_line`` writes one record per line.
"""

from __future__ import annotations

import os
from typing import Any

from attnscope.engine.compare.inputs import InputComparison
from attnscope.engine.compare.scoring import ForcedOutput
from attnscope.engine.decode_record import Settings, snapshot_record, to_jsonable

COMPARE_FORMAT = "attnscope.compare"
COMPARE_VERSION = 1


def _report(forced: ForcedOutput | None) -> dict[str, Any] | None:
    return None if forced is None else forced.report.as_dict()


def comparison_record(
    comparison: InputComparison,
    *,
    models: tuple[str | os.PathLike, str | os.PathLike],
    settings: tuple[Settings, Settings],
    reference: str | None = None,
) -> dict[str, Any]:
    """The JSON-ready record of one input compared (see the module for its fields).

    models: the two checkpoints' paths; settings: their DecodeConfigs (or dicts)
    """
    own_a, own_b = comparison.outputs
    record: dict[str, Any] = {
        "format": COMPARE_FORMAT,
        "version": COMPARE_VERSION,
        "models": [os.fspath(path) for path in models],
        "a": snapshot_record(own_a, model=models[0], settings=settings[0]),
        "b": snapshot_record(own_b, model=models[1], settings=settings[1]),
        "cross_scores": {
            "b_scores_a": _report(comparison.b_scores_a),
            "a_scores_b": _report(comparison.a_scores_b),
        },
        "diff": comparison.diff.to_dict(),
        "attention": None if comparison.attention is None else comparison.attention.to_dict(),
        "notes": list(comparison.notes),
    }
    if reference is not None:
        by_reference = comparison.reference or (None, None)
        record["reference"] = {
            "text": reference,
            "a": _report(by_reference[0]),
            "b": _report(by_reference[1]),
        }
    return to_jsonable(record)
