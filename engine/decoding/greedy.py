"""Greedy search: one hypothesis per input, the most likely allowed token at each step.

``GreedySearch`` is also the base of ``RandomSampling``: the two differ only
in how ``choose_tokens`` picks a token from the step's log-probs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.base import DecodeStrategy, SearchRows
from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.decoding.constraints import apply_rules
from attnscope.engine.decoding.recorder import StepRecord
from attnscope.engine.decoding.results import StepResult


class GreedySearch(DecodeStrategy):
    """Argmax decoding, vectorised over the batch; finished inputs leave the batch."""

    name = "greedy"

    def choose_tokens(self, log_probs: Tensor) -> Tensor:
        """(N, V) constrained log-probs -> (N,) long chosen tokens."""
        return log_probs.argmax(dim=1)

    def advance(
        self, log_probs: Tensor, attn: Tensor | None, *, forced: int | None = None
    ) -> list[StepResult]:
        """log_probs (N, V), attn (N, heads, S) | None -> this step's StepResults."""
        rows = self._rows
        step = self.step_index
        allowed = apply_rules(log_probs, rows.history, step=step, rules=self.rules, forced=forced)
        tokens = self.choose_tokens(allowed)  # (N,)
        token_log_probs = log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)  # (N,)
        scores = rows.scores + token_log_probs
        last = torch.as_tensor(step + 1 >= rows.max_lengths, device=tokens.device)
        finished = (tokens == EOS_ID) | last  # (N,)

        topk_ids, topk_probs = self._alternatives(log_probs)
        finished_np = finished.cpu().numpy()
        record = StepRecord(
            batch_index=rows.inputs,
            parent_ids=rows.node_ids,
            tokens=tokens.cpu().numpy(),
            log_probs=token_log_probs.float().cpu().numpy(),
            scores=scores.float().cpu().numpy(),
            finished=finished_np,
            topk_ids=topk_ids,
            topk_probs=topk_probs,
            attention=None if attn is None else attn.float().cpu().numpy(),
        )
        node_ids, results = self.recorder.add_step(step, record, forced=forced is not None)
        self._record_finished(rows.inputs[finished_np], node_ids[finished_np])
        self._rows = self._next_rows(rows, tokens, scores, node_ids, finished_np)
        self.step_index += 1
        return results

    def _next_rows(
        self,
        rows: SearchRows,
        tokens: Tensor,
        scores: Tensor,
        node_ids: np.ndarray,
        finished: np.ndarray,
    ) -> SearchRows:
        keep = np.flatnonzero(~finished)
        history = torch.cat([rows.history, tokens.unsqueeze(1)], dim=1)  # (N, t + 1)
        select = None
        if keep.size < finished.size:
            select = torch.as_tensor(keep, device=tokens.device)
            history, scores = history.index_select(0, select), scores.index_select(0, select)
        return SearchRows(
            inputs=rows.inputs[keep],
            max_lengths=rows.max_lengths[keep],
            n_finished=rows.n_finished[keep],
            history=history,
            scores=scores,
            node_ids=node_ids[keep],
            select=select,
            memory_select=select,
        )
