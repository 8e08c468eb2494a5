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

    def choose_tokens(self, allowed: Tensor, best: Tensor) -> Tensor:
        """(N, V) log-probs with bans, (N,) their argmax -> (N,) long chosen tokens."""
        return best

    def advance(
        self, log_probs: Tensor, attn: Tensor | None, *, forced: int | None = None
    ) -> list[StepResult]:
        """log_probs (N, V), attn (N, heads, S) | None -> this step's StepResults."""
        rows = self._rows
        step = self.step_index
        allowed = apply_rules(log_probs, rows.history, step=step, rules=self.rules, forced=forced)
        _, best, topk_ids, topk_probs = self._row_top(log_probs, allowed, 1)
        tokens = self.choose_tokens(allowed, best[:, 0])  # (N,)
        token_log_probs = log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)  # (N,)
        scores = rows.scores + token_log_probs
        tokens_np = tokens.cpu().numpy()
        finished = (tokens_np == EOS_ID) | (rows.max_lengths <= step + 1)  # (N,)
        record = StepRecord(
            batch_index=rows.inputs,
            parent_ids=rows.node_ids,
            tokens=tokens_np,
            log_probs=token_log_probs.float().cpu().numpy(),
            scores=scores.float().cpu().numpy(),
            finished=finished,
            topk_ids=topk_ids,
            topk_probs=topk_probs,
            attention=None if attn is None else attn.float().cpu().numpy(),
        )
        node_ids, results = self.recorder.add_step(step, record, forced=forced is not None)
        self._record_finished(rows.inputs[finished], node_ids[finished])
        self._rows = self._next_rows(rows, tokens, scores, node_ids, finished)
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
