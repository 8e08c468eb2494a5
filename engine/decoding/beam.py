"""Beam search over all inputs at once: B' unfinished inputs × k hypotheses per model step.

Each step ranks, per input, the k·V extensions of its k hypotheses and looks
at the best 2k (at most k can end in eos, one per parent, so at least k do
not). Extensions ending in eos among the top k are finished; the best k
that do not end in eos form the next beam. An input is done once it has k
finished hypotheses, reaches its length limit (the surviving beam is then
finished as it is), or has no live hypothesis left. Finished hypotheses are
ranked by ``penalties.final_score``; the best ``n_best`` are returned.

The heavy work (top-k over the vocabulary) runs on the model's device; the
bookkeeping on the (B', 2k) winners runs in numpy, where small arrays are cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.base import DecodeStrategy, SearchRows
from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.decoding.recorder import StepRecord
from attnscope.engine.decoding.results import StepResult


@dataclass(frozen=True)
class _Candidates:
    """The best C = min(2k, k·V) extensions of each input's beam, best first (numpy).

    scores (B', C) cumulative log-prob, log_probs (B', C) of the new token,
    tokens (B', C), rows (B', C) parent row in the step's batch,
    finished (B', C): ends here, recorded (B', C): becomes a tree node,
    alive (B', C): one of the k best non-eos extensions (the next beam).
    """

    scores: np.ndarray
    log_probs: np.ndarray
    tokens: np.ndarray
    rows: np.ndarray
    finished: np.ndarray
    recorded: np.ndarray
    alive: np.ndarray


class BeamSearch(DecodeStrategy):
    """Batched beam search; see the module docstring for the rules."""

    name = "beam"

    @property
    def rows_per_input(self) -> int:
        return self.config.beam_size

    @property
    def n_best(self) -> int:
        return self.config.n_best

    def advance(
        self, log_probs: Tensor, attn: Tensor | None, *, forced: int | None = None
    ) -> list[StepResult]:
        """log_probs (B'·k, V), attn (B'·k, heads, S) | None -> this step's StepResults."""
        rows = self._rows
        k = self.config.beam_size
        # an input's best 2k extensions are always among its rows' best 2k allowed tokens
        values, ids, topk_ids, topk_probs = self._row_top_allowed(
            log_probs, 2 * k, forced=forced
        )  # (N, w)
        per_row = values.size(1)
        total = (rows.scores.unsqueeze(1) + values).view(rows.inputs.size, k * per_row)
        scores, flat = total.topk(min(2 * k, k * per_row), dim=1)  # (B', C), best first
        cand = self._candidates(
            scores.float().cpu().numpy(),
            flat.cpu().numpy(),
            ids.cpu().numpy(),
            values.float().cpu().numpy(),
            rows.max_lengths,
        )
        attention = None if attn is None else attn.float().cpu().numpy()
        entropy = self._entropy(log_probs)  # (N,) or None
        node_of_cand, results = self._record(
            cand, rows, (attention, entropy), (topk_ids, topk_probs), forced is not None
        )
        n_finished = rows.n_finished + cand.finished.sum(axis=1)
        live = (cand.alive & ~cand.finished & np.isfinite(cand.scores)).any(axis=1)
        done = (rows.max_lengths <= self.step_index + 1) | (n_finished >= k) | ~live
        self._rows = self._next_beam(cand, rows, node_of_cand, n_finished, done)
        self.step_index += 1
        return results

    def _candidates(
        self,
        scores: np.ndarray,
        flat: np.ndarray,
        ids: np.ndarray,
        values: np.ndarray,
        max_lengths: np.ndarray,
    ) -> _Candidates:
        """What becomes of each of the C best extensions of every input.

        scores, flat: (B', C) the winners and their index into the input's
        (k, w) block of per-row best tokens ``ids`` / ``values`` (N, w).
        """
        k = self.config.beam_size
        per_row = ids.shape[1]
        rows = flat // per_row + np.arange(scores.shape[0])[:, None] * k  # (B', C) parent row
        column = flat % per_row
        tokens = ids[rows, column]
        rank = np.arange(scores.shape[1])[None, :]
        finite = np.isfinite(scores)
        is_eos = tokens == EOS_ID
        eos_kept = is_eos & (rank < k) & finite
        alive = ~is_eos & (np.cumsum(~is_eos, axis=1) <= k)  # the best k non-eos
        last = (max_lengths <= self.step_index + 1)[:, None]
        return _Candidates(
            scores=scores,
            log_probs=values[rows, column],  # allowed == model log-prob where finite
            tokens=tokens,
            rows=rows,
            finished=eos_kept | (alive & finite & last),
            recorded=finite & (eos_kept | alive),
            alive=alive,
        )

    def _record(
        self,
        cand: _Candidates,
        rows: SearchRows,
        per_row: tuple[np.ndarray | None, np.ndarray | None],
        alternatives: tuple[np.ndarray, np.ndarray],
        forced: bool,
    ) -> tuple[np.ndarray, list[StepResult]]:
        """Store the recorded candidates as tree nodes; returns their ids (B', C), -1 elsewhere.

        per_row: the step's attention (N, heads, S) and entropy (N,) by parent row, each
        None when absent; alternatives: top-k ids and probabilities (N, K) by parent row.
        """
        attention, entropy = per_row
        where = np.nonzero(cand.recorded)  # row-major: by input, then rank
        parents = cand.rows[where]
        finished = cand.finished[where]
        topk_ids, topk_probs = alternatives
        record = StepRecord(
            batch_index=rows.inputs[where[0]],
            parent_ids=rows.node_ids[parents],
            tokens=cand.tokens[where],
            log_probs=cand.log_probs[where],
            scores=cand.scores[where],
            finished=finished,
            topk_ids=topk_ids[parents],
            topk_probs=topk_probs[parents],
            attention=None if attention is None else attention[parents],
            entropy=None if entropy is None else entropy[parents],
        )
        node_ids, results = self.recorder.add_step(self.step_index, record, forced=forced)
        self._record_finished(record.batch_index[finished], node_ids[finished])
        node_of_cand = np.full(cand.scores.shape, -1, dtype=np.int64)
        node_of_cand[where] = node_ids
        return node_of_cand, results

    def _next_beam(
        self,
        cand: _Candidates,
        rows: SearchRows,
        node_of_cand: np.ndarray,
        n_finished: np.ndarray,
        done: np.ndarray,
    ) -> SearchRows:
        """The k best non-eos extensions of every input that is not done."""
        k = self.config.beam_size
        keep = np.flatnonzero(~done)
        # positions of the k alive candidates of each kept input, in rank order
        position = np.argsort(~cand.alive[keep], axis=1, kind="stable")[:, :k]  # (B'', k)

        def pick(array: np.ndarray) -> np.ndarray:
            return np.take_along_axis(array[keep], position, axis=1).reshape(-1)

        device = rows.scores.device
        select = torch.as_tensor(pick(cand.rows), device=device)  # (B''·k,)
        tokens = torch.as_tensor(pick(cand.tokens), device=device)
        history = torch.cat([rows.history.index_select(0, select), tokens.unsqueeze(1)], dim=1)
        return SearchRows(
            inputs=rows.inputs[keep],
            max_lengths=rows.max_lengths[keep],
            n_finished=n_finished[keep],
            history=history,
            scores=torch.as_tensor(pick(cand.scores), device=device, dtype=rows.scores.dtype),
            node_ids=pick(node_of_cand),
            select=select,
            memory_select=select if keep.size < done.size else None,
        )
