"""Compare: two models on one input, and one input across the epochs of a training run.

Plain engine code (no Qt): the app's compare view runs it in its worker, and
``attnscope compare`` (engine/commands/compare.py) prints it. Everything handed out is
plain data (strings, numpy arrays, frozen dataclasses).

Two models, one input
- ``compatible(a, b)``: None, or ``IncompatibleModelsError`` naming what differs (another
  task, another source or target language, another device). ``load_partner(path, a)``
  opens the second checkpoint on ``a``'s device and checks the pair.
- ``LockstepPair(a, b, source, config_a, config_b)``: two step-wise decodes driven
  together: ``step()``, ``back()``, ``run(until, cancel)``, ``reset()``, ``done``,
  ``snapshots()`` -> (SessionSnapshot, SessionSnapshot), ``force(side, token)`` on one
  side (engine/compare/lockstep.py).
- ``cross_score(scorer, source, text, config=None)``: the other model's output text
  scored by ``scorer``, one log-prob per token, teacher-forced: the ``ReferenceReport``
  that ``attnscope score`` prints; ``force_output`` also keeps the forced decode's view
  record (its attention); ``cross_scores(...)`` both ways (engine/compare/scoring.py).
- ``compare_attention(forced_a, forced_b)``: one output forced through both models, its
  two attentions on one grid: pieces when both segmentations match (a difference map),
  else words with subwords grouped (a captioner's grid cells as they are); per-row Jensen-Shannon divergence and top-1 match,
  ``mean_jsd`` / ``top1_agreement`` (engine/compare/attention.py).
- ``word_diff(snapshot_a, snapshot_b)``: the two outputs diffed word by word.
- ``compare_input(a, b, source, config_a, config_b, reference=None)``: all of the above
  for one input (``InputComparison``): what the view shows at the end of a decode and
  what ``attnscope compare`` prints per line (engine/compare/inputs.py); its JSON record
  is engine/compare/record.py's, its corpus summary engine/compare/summary.py's.

One input across a run
- ``load_run(folder)`` -> ``RunFolder``: the kept ``epoch-NNN.safetensors`` (headers
  checked; a missing, corrupt or foreign file is skipped with a message in ``skipped``)
  and the per-epoch records of metrics.jsonl; ``RunFolderError`` when no epoch is usable
  (engine/compare/run_folder.py).
- ``trace_run(run, source, reference=None, progress=..., cancel=...)`` -> ``EpochTrace``:
  one fixed output (the reference, else the final epoch's own output) forced through
  every epoch: per epoch its attention (T, heads, S), log-prob, attention entropy and
  agreement with the final epoch; ``curve(name)`` for those and for metrics.jsonl's
  BLEU / validation loss (engine/compare/epochs.py).
"""

from attnscope.engine.compare.attention import AttentionComparison, compare_attention
from attnscope.engine.compare.compatibility import (
    IncompatibleModelsError,
    compatible,
    load_partner,
)
from attnscope.engine.compare.epochs import EpochAttention, EpochTrace, trace_run
from attnscope.engine.compare.inputs import InputComparison, compare_input, word_diff
from attnscope.engine.compare.lockstep import LockstepPair, PairStep
from attnscope.engine.compare.run_folder import (
    EpochCheckpoint,
    RunFolder,
    RunFolderError,
    load_run,
)
from attnscope.engine.compare.scoring import (
    CrossScores,
    ForcedOutput,
    cross_score,
    cross_scores,
    force_output,
    report_words,
)

__all__ = [
    "AttentionComparison",
    "CrossScores",
    "EpochAttention",
    "EpochCheckpoint",
    "EpochTrace",
    "ForcedOutput",
    "IncompatibleModelsError",
    "InputComparison",
    "LockstepPair",
    "PairStep",
    "RunFolder",
    "RunFolderError",
    "compare_attention",
    "compare_input",
    "compatible",
    "cross_score",
    "cross_scores",
    "force_output",
    "load_partner",
    "load_run",
    "report_words",
    "trace_run",
    "word_diff",
]
