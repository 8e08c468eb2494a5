"""`attnscope align-eval`: how well attention (or an attribution) aligns words, against gold links.

    attnscope align-eval -c CKPT --pairs dev.zh-en --gold dev.gold --one-based \\
        [--method attention saliency ... diagonal] [--rule pieces|words|intersect] [--json]

Each line of ``--pairs`` is ``source words ||| target words``; ``--gold`` holds
the matching Pharaoh links (``i-j`` sure, ``ipj`` possible). Each reference
(the target words joined as running text) is forced through the model on its
source, teacher-forced; the method's (target pieces × source pieces) matrix
is grouped into the gold file's words by character offsets
(engine/explain/word_links.py) and turned into links, scored with AER,
precision and recall (engine/explain/aer.py). ``diagonal`` is the baseline
that reads no model: each target word links the source word at its relative place. A table per method goes to
stdout (``--json``: one object); a pair the model refuses is reported on
stderr and left out of every method's figures. Bad files exit with status 2
and one line naming the file and line.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from attnscope.engine.commands.common import fail, progress_bar, read_input_lines
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.explain import METHODS
from attnscope.engine.explain.aer import AlignmentCounts, count_links, read_gold_set
from attnscope.engine.explain.attribution import MAX_IG_STEPS
from attnscope.engine.explain.word_links import (
    LINK_RULES,
    diagonal_links,
    join_words,
    word_links,
)
from attnscope.engine.hf.multilingual import add_language_arguments, choose_languages

ATTENTION = "attention"
DIAGONAL = "diagonal"
METHOD_CHOICES = (ATTENTION, *METHODS, DIAGONAL)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--checkpoint", required=True, help="translation checkpoint")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument(
        "--pairs", required=True, metavar="FILE", help="'source words ||| target words' per line"
    )
    add_language_arguments(parser)
    parser.add_argument(
        "--gold",
        required=True,
        metavar="FILE",
        help="Pharaoh links per line: i-j sure, ipj possible",
    )
    parser.add_argument(
        "--one-based", action="store_true", help="the gold links count words from 1 (default 0)"
    )
    parser.add_argument(
        "--method",
        nargs="+",
        choices=METHOD_CHOICES,
        default=[ATTENTION],
        metavar="NAME",
        help=f"what to read links from: {', '.join(METHOD_CHOICES)} (several allowed; "
        "default attention; diagonal: the baseline that links by relative position)",
    )
    parser.add_argument(
        "--rule",
        choices=tuple(LINK_RULES),
        default="pieces",
        help="; ".join(f"{name}: {text}" for name, text in LINK_RULES.items())
        + " (default: pieces)",
    )
    parser.add_argument(
        "--ig-steps", type=int, default=32, metavar="N", help="integrated gradients steps"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model

    methods = list(dict.fromkeys(args.method))
    try:
        if not 1 <= args.ig_steps <= MAX_IG_STEPS:
            raise ValueError(
                f"--ig-steps must be between 1 and {MAX_IG_STEPS}, got {args.ig_steps}"
            )
        entries = read_gold_set(
            read_input_lines(args.pairs, "--pairs"),
            read_input_lines(args.gold, "--gold"),
            one_based=args.one_based,
            pairs_name=args.pairs,
            gold_name=args.gold,
        )
        model = load_inference_model(args.checkpoint, device=args.device)
        if model.task != "translation":
            raise ValueError(f"{args.checkpoint} is a {model.task} model; align-eval needs text")
        choose_languages(args, model)
        if ATTENTION in methods and not model.model.num_heads:
            raise ValueError(
                f"{args.checkpoint} has no attention; choose an attribution --method instead"
            )
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    totals = {method: AlignmentCounts() for method in methods}
    skipped = 0
    bar = progress_bar(len(entries), "pairs", desc="align-eval")
    for number, (pair, gold) in enumerate(entries, 1):
        try:
            matrices = pair_matrices(model, pair, methods, ig_steps=args.ig_steps)
        except AttnScopeError as exc:
            print(f"attnscope: {args.pairs} line {number} skipped: {exc}", file=sys.stderr)
            skipped += 1
            bar.update()
            continue
        for method, (matrix, source_pieces, target_pieces) in matrices.items():
            links = word_links(
                matrix,
                source_pieces=source_pieces,
                target_pieces=target_pieces,
                source_words=pair.source,
                target_words=pair.target,
                rule=args.rule,
            )
            totals[method] += count_links(links, gold)
        if DIAGONAL in totals:
            links = diagonal_links(len(pair.source), len(pair.target))
            totals[DIAGONAL] += count_links(links, gold)
        bar.update()
    bar.close()
    scored = len(entries) - skipped
    if args.json:
        print(json.dumps(_as_json(totals, args, scored=scored, skipped=skipped)))
    else:
        print(summary_table(totals, scored=scored, skipped=skipped, rule=args.rule))
    return 0


def pair_matrices(model, pair, methods, *, ig_steps: int = 32) -> dict[str, tuple]:
    """Per method, (matrix (T, S), source pieces, target pieces) of one forced pair.

    T counts the reference's pieces (not eos), S the source's pieces and eos.
    InputTextError (an AttnScopeError) when the model cannot take the pair.
    """
    source_text, target_text = join_words(pair.source), join_words(pair.target)
    source_pieces = model.source_pieces(source_text)  # one per encoder position
    target_ids = model.target_ids(target_text)
    target_pieces = tuple(model.piece(i) for i in target_ids)
    matrices = {}
    for method in methods:
        if method == DIAGONAL:
            continue
        if method == ATTENTION:
            matrix = forced_attention(model, source_text, target_ids)
        else:
            matrix = forced_attribution(model, source_text, target_ids, method, ig_steps=ig_steps)
        matrices[method] = (matrix, source_pieces, target_pieces)
    return matrices


def forced_attention(model, source_text: str, target_ids: list[int]) -> np.ndarray:
    """The attention (T, S), heads averaged, of ``target_ids`` forced on ``source_text``:
    row t is the step that predicts ``target_ids[t]``. A step model without a
    teacher-forced forward (a Hugging Face folder's) takes the tokens step by step."""
    import torch

    from attnscope.engine.decoding import BOS_ID, DecodeConfig, decode

    memory = model.encode_texts([source_text])
    if not hasattr(model.model, "decode_teacher_forced"):
        config = DecodeConfig(max_length=len(target_ids), max_length_ratio=0, topk_alternatives=0)
        with torch.inference_mode():
            (result,) = decode(model.model, memory, config, forced_prefix=target_ids)
        return result.best.attention.mean(axis=1)  # (T, heads, S) -> (T, S)
    tgt_in = torch.tensor([[BOS_ID, *target_ids[:-1]]], device=model.device)  # (1, T)
    with torch.inference_mode():
        _, attention = model.model.decode_teacher_forced(memory, tgt_in)  # (1, T, heads, S)
    return attention[0].float().mean(dim=1).cpu().numpy()


def forced_attribution(
    model, source_text: str, target_ids: list[int], method: str, *, ig_steps: int
) -> np.ndarray:
    """The attribution (T, S) of every step of ``target_ids`` forced on ``source_text``."""
    from attnscope.engine.explain import explain

    result = explain(model, source_text, target_ids, method=method, ig_steps=ig_steps)
    return np.asarray(result.scores, dtype=np.float64)


def summary_table(totals: dict, *, scored: int, skipped: int, rule: str) -> str:
    """A plain-text table: one row per method, AER / precision / recall in percent."""
    lines = [
        f"{scored} pairs scored"
        + (f", {skipped} skipped (see above)" if skipped else "")
        + f"; links: {rule}",
        f"{'method':<18} {'AER':>6} {'prec.':>6} {'recall':>6} {'links':>7} {'sure':>7}",
    ]
    for method, counts in totals.items():
        lines.append(
            f"{method:<18} {100 * counts.aer:6.1f} {100 * counts.precision:6.1f} "
            f"{100 * counts.recall:6.1f} {counts.predicted:7d} {counts.sure:7d}"
        )
    return "\n".join(lines)


def _as_json(totals: dict, args: argparse.Namespace, *, scored: int, skipped: int) -> dict:
    return {
        "checkpoint": args.checkpoint,
        "pairs": args.pairs,
        "gold": args.gold,
        "one_based": args.one_based,
        "rule": args.rule,
        "scored": scored,
        "skipped": skipped,
        "methods": {method: counts.to_dict() for method, counts in totals.items()},
    }
