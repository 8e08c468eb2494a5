"""Beam search over all inputs at once: B' unfinished inputs × k hypotheses per model step.

Each step ranks, per input, the k·V extensions of its k hypotheses and looks
at the best 2k (at most k can end in eos, one per parent, so at least k do
not). Extensions ending in eos among the top k are finished; the best k
that do not end in eos form the next beam. An input is done once it has k
finished hypotheses, reaches its length limit (the surviving beam is then
finished as it is), or has no live hypothesis left. Finished hypotheses are
ranked by ``penalties.final_score``; the best ``n_best`` are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.base import DecodeStrategy, SearchRows
from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.decoding.constraints import apply_rules
from attnscope.engine.decoding.recorder import StepRecord
from attnscope.engine.decoding.results import StepResult


@dataclass(frozen=True)
class _Candidates:
    """The best C = min(2k, k·V) extensions of each input's beam, best first.

    scores (B', C) cumulative log-prob, tokens (B', C), rows (B', C) parent row
    in the step's batch, finished (B', C) bool, recorded (B', C) bool (becomes
    a tree node), alive (B', C) bool (candidate for the next beam).
    """

    scores: Tensor
    tokens: Tensor
    rows: Tensor
    finished: Tensor
    recorded: Tensor
    alive: Tensor


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
        allowed = apply_rules(
            log_probs, rows.history, step=self.step_index, rules=self.rules, forced=forced
        )
        cand = self._rank(allowed, rows)
        node_of_cand, results = self._record(cand, log_probs, attn, rows, forced is not None)

        n_finished = rows.n_finished + cand.finished.sum(dim=1).cpu().numpy()
        live = (cand.alive & ~cand.finished & torch.isfinite(cand.scores)).any(dim=1)
        last = rows.max_lengths <= self.step_index + 1
        done = last | (n_finished >= self.config.beam_size) | ~live.cpu().numpy()
        self._rows = self._next_beam(cand, rows, node_of_cand, n_finished, done)
        self.step_index += 1
        return results

    def _rank(self, allowed: Tensor, rows: SearchRows) -> _Candidates:
        """Top 2k extensions per input and what becomes of each."""
        k = self.config.beam_size
        n_inputs, vocab = rows.inputs.size, allowed.size(1)
        total = (rows.scores.unsqueeze(1) + allowed).view(n_inputs, k * vocab)  # (B', k·V)
        width = min(2 * k, k * vocab)
        scores, flat = total.topk(width, dim=1)  # (B', C), best first
        tokens = flat % vocab
        rows_idx = flat // vocab + torch.arange(n_inputs, device=flat.device).unsqueeze(1) * k
        rank = torch.arange(width, device=flat.device).unsqueeze(0)  # (1, C)
        finite = torch.isfinite(scores)
        is_eos = tokens == EOS_ID
        eos_kept = is_eos & (rank < k) & finite
        alive = ~is_eos & (torch.cumsum(~is_eos, dim=1) <= k)  # the best k non-eos
        last = torch.as_tensor(rows.max_lengths <= self.step_index + 1, device=flat.device)
        finished = eos_kept | (alive & finite & last.unsqueeze(1))
        return _Candidates(
            scores=scores,
            tokens=tokens,
            rows=rows_idx,
            finished=finished,
            recorded=finite & (eos_kept | alive),
            alive=alive,
        )

    def _record(
        self,
        cand: _Candidates,
        log_probs: Tensor,
        attn: Tensor | None,
        rows: SearchRows,
        forced: bool,
    ) -> tuple[np.ndarray, list[StepResult]]:
        """Store the recorded candidates as tree nodes; returns their ids as (B', C), -1 elsewhere."""
        where_b, where_c = cand.recorded.nonzero(as_tuple=True)  # row-major: by input, then rank
        parent_rows = cand.rows[where_b, where_c]
        tokens = cand.tokens[where_b, where_c]
        parent_rows_np = parent_rows.cpu().numpy()
        topk_ids, topk_probs = self._alternatives(log_probs)
        finished = cand.finished[where_b, where_c].cpu().numpy()
        record = StepRecord(
            batch_index=rows.inputs[where_b.cpu().numpy()],
            parent_ids=rows.node_ids[parent_rows_np],
            tokens=tokens.cpu().numpy(),
            log_probs=log_probs[parent_rows, tokens].float().cpu().numpy(),
            scores=cand.scores[where_b, where_c].float().cpu().numpy(),
            finished=finished,
            topk_ids=topk_ids[parent_rows_np],
            topk_probs=topk_probs[parent_rows_np],
            attention=None if attn is None else attn[parent_rows].float().cpu().numpy(),
        )
        node_ids, results = self.recorder.add_step(self.step_index, record, forced=forced)
        self._record_finished(record.batch_index[finished], node_ids[finished])
        node_of_cand = np.full(tuple(cand.scores.shape), -1, dtype=np.int64)
        node_of_cand[where_b.cpu().numpy(), where_c.cpu().numpy()] = node_ids
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
        # positions of the k alive candidates of each input, in rank order
        position = torch.argsort((~cand.alive).to(torch.int8), dim=1, stable=True)[:, :k]
        keep_t = torch.as_tensor(keep, device=position.device)
        position = position.index_select(0, keep_t)  # (B'', k)
        select = cand.rows.index_select(0, keep_t).gather(1, position).view(-1)  # (B''·k,)
        tokens = cand.tokens.index_select(0, keep_t).gather(1, position).view(-1)
        scores = cand.scores.index_select(0, keep_t).gather(1, position).view(-1)
        history = torch.cat([rows.history.index_select(0, select), tokens.unsqueeze(1)], dim=1)
        position_np = position.cpu().numpy()
        node_ids = np.take_along_axis(node_of_cand[keep], position_np, axis=1).reshape(-1)
        return SearchRows(
            inputs=rows.inputs[keep],
            max_lengths=rows.max_lengths[keep],
            n_finished=n_finished[keep],
            history=history,
            scores=scores,
            node_ids=node_ids,
            select=select,
            memory_select=select if keep.size < done.size else None,
        )
