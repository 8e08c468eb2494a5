"""Greedy search: one hypothesis per input, the most likely allowed token at each step.

``GreedySearch`` is also the base of ``RandomSampling``: the two differ only
in how ``choose_tokens`` picks a token from the step's log-probs.

The running scores live in numpy (float32): greedy and sampling need them
only for the CPU-side record, so no device tensor is made for them per step.
The rows' token history is kept only when n-gram blocking reads it; the
next step's tokens are ``SearchRows.last``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.base import DecodeStrategy, SearchRows
from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.decoding.constraints import apply_rules, banned_tokens
from attnscope.engine.decoding.recorder import StepRecord
from attnscope.engine.decoding.results import StepResult

# What a step picked: tokens (N,) long on the device and as int64 numpy, their
# log-probs (N,) float32, the alternatives' ids (N, K) int64 and probabilities (N, K) float32.
Picked = tuple[Tensor, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class GreedySearch(DecodeStrategy):
    """Argmax decoding, vectorised over the batch; finished inputs leave the batch."""

    name = "greedy"
    # choose_tokens ignores the banned copy of the log-probs, so the argmax may
    # come from one top-k of the model's own log-probs (see ``_pick_argmax``)
    argmax_only: ClassVar[bool] = True

    def choose_tokens(self, allowed: Tensor, best: Tensor) -> Tensor:
        """(N, V) log-probs with bans, (N,) their argmax -> (N,) long chosen tokens."""
        return best

    def advance(
        self, log_probs: Tensor, attn: Tensor | None, *, forced: int | None = None
    ) -> list[StepResult]:
        """log_probs (N, V), attn (N, heads, S) | None -> this step's StepResults."""
        rows = self._rows
        step = self.step_index
        picked = self._pick_argmax(log_probs, forced) if self.argmax_only else None
        if picked is None:
            picked = self._pick_with_rules(log_probs, forced)
        tokens, tokens_np, token_log_probs, topk_ids, topk_probs = picked
        scores = rows.scores + token_log_probs  # (N,) float32
        finished = (tokens_np == EOS_ID) | (rows.max_lengths <= step + 1)  # (N,)
        record = StepRecord(
            batch_index=rows.inputs,
            parent_ids=rows.node_ids,
            tokens=tokens_np,
            log_probs=token_log_probs,
            scores=scores,
            finished=finished,
            topk_ids=topk_ids,
            topk_probs=topk_probs,
            attention=None if attn is None else attn.float().cpu().numpy(),
            entropy=self._entropy(log_probs),
        )
        node_ids, results = self.recorder.add_step(step, record, forced=forced is not None)
        self._record_finished(rows.inputs[finished], node_ids[finished])
        self._rows = self._next_rows(rows, tokens, scores, node_ids, finished)
        self.step_index += 1
        return results

    def _pick_with_rules(self, log_probs: Tensor, forced: int | None) -> Picked:
        """``choose_tokens`` on the (N, V) log-probs with every rule applied."""
        allowed = apply_rules(
            log_probs, self._rows.history, step=self.step_index, rules=self.rules, forced=forced
        )
        _, best, topk_ids, topk_probs = self._row_top(log_probs, allowed, 1)
        tokens = self.choose_tokens(allowed, best[:, 0])  # (N,)
        token_log_probs = log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)  # (N,)
        return (
            tokens,
            tokens.cpu().numpy(),
            token_log_probs.float().cpu().numpy(),
            topk_ids,
            topk_probs,
        )

    def _pick_argmax(self, log_probs: Tensor, forced: int | None) -> Picked | None:
        """The best allowed token of each row from one top-k of the model's log-probs.

        When the step's only rules ban single tokens (eos before the minimum
        length, unk), a row's best allowed token is among its best
        1 + len(banned); the same top-k holds the reported alternatives. None
        when a forced token or n-gram blocking needs the full rules.
        """
        rules = self.rules
        banned = banned_tokens(self.step_index, rules)
        vocab = log_probs.size(1)
        wide = 1 + len(banned)
        if forced is not None or rules.block_ngram_repeat > 0 or wide > vocab:
            return None
        k = min(self.config.topk_alternatives, vocab)
        values, ids = log_probs.topk(max(wide, k), dim=1)  # (N, w), best first
        ids_np = ids.cpu().numpy()
        values_np = values.float().cpu().numpy()
        if banned and ids_np.shape[0] == 1:  # batch-1 stepping: numpy is slow on tiny arrays
            column = next(
                j for j, token in enumerate(ids_np[0, :wide].tolist()) if token not in banned
            )
            tokens = ids[:, column]
            tokens_np, token_log_probs = ids_np[:, column], values_np[:, column]
        elif banned:  # the first id of each row that is not banned (np.isin is slow on tiny arrays)
            allowed = ids_np[:, :wide] != banned[0]
            for token in banned[1:]:
                allowed &= ids_np[:, :wide] != token
            column = np.argmax(allowed, axis=1)
            rows = np.arange(ids_np.shape[0])
            tokens_np, token_log_probs = ids_np[rows, column], values_np[rows, column]
            tokens = torch.from_numpy(tokens_np).to(ids.device)
        else:
            tokens_np, token_log_probs, tokens = ids_np[:, 0], values_np[:, 0], ids[:, 0]
        top = values if values.size(1) == k else values[:, :k]
        topk_probs = top.float().exp().cpu().numpy()
        return tokens, tokens_np, token_log_probs, ids_np[:, :k], topk_probs

    def _initial_rows(self, max_lengths: np.ndarray) -> SearchRows:
        rows = super()._initial_rows(max_lengths)
        return replace(rows, scores=np.zeros(rows.node_ids.size, dtype=np.float32))

    def _next_rows(
        self,
        rows: SearchRows,
        tokens: Tensor,
        scores: np.ndarray,
        node_ids: np.ndarray,
        finished: np.ndarray,
    ) -> SearchRows:
        history = rows.history
        if self.rules.block_ngram_repeat > 0:  # the only reader of the history
            history = torch.cat([history, tokens.unsqueeze(1)], dim=1)  # (N, t + 1)
        if not finished.any():  # every row goes on (batch-1 stepping: every step but the last)
            return replace(
                rows,
                history=history,
                scores=scores,
                node_ids=node_ids,
                last=tokens,
                select=None,
                memory_select=None,
            )
        keep = np.flatnonzero(~finished)
        select = torch.as_tensor(keep, device=tokens.device)
        return SearchRows(
            inputs=rows.inputs[keep],
            max_lengths=rows.max_lengths[keep],
            n_finished=rows.n_finished[keep],
            history=history.index_select(0, select),
            scores=scores[keep],
            node_ids=node_ids[keep],
            select=select,
            memory_select=select,
            last=tokens.index_select(0, select),
        )
