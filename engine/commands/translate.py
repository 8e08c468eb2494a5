"""`attnscope translate -c CKPT`: lines from stdin (or --input) to translations on stdout."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from attnscope.engine.commands.common import (
    add_decode_arguments,
    config_from_options,
    decode_config_from_args,
    fail,
    progress_bar,
    read_input_lines,
    recommended_decoding,
)
from attnscope.engine.commands.translate_flags import (
    DEFAULT_SPEC,
    flag_summary,
    flags_of,
    flags_text,
    load_flags,
    prepare_config,
)
from attnscope.engine.cpu_threads import add_threads_argument, set_decode_threads
from attnscope.engine.decode_record import (
    TRANSLATION,
    json_line,
    no_decode_record,
    translation_record,
)
from attnscope.engine.errors import AttnScopeError, DataError
from attnscope.engine.hf.multilingual import add_language_arguments, choose_languages
from attnscope.engine.input_files import (
    check_output_path,
    display_path,
    special_file_kind,
    write_text_atomically,
)
from attnscope.engine.quantize import add_int8_argument, use_int8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    add_language_arguments(parser)
    add_threads_argument(parser)
    add_int8_argument(parser)
    parser.add_argument("-i", "--input", help="text file to translate (default: stdin)")
    parser.add_argument("-o", "--output", help="write here (default: stdout)")
    parser.add_argument(
        "--align",
        action="store_true",
        help="add word alignments read off the attention (Pharaoh 'src-tgt' pairs): "
        "'translation ||| 0-0 1-2 ...', or an 'alignment' field with --json",
    )
    parser.add_argument(
        "--step-entropy",
        action="store_true",
        help="record each step's entropy (the 'entropy' of --json's step_scores, null "
        "otherwise; reads every step's distribution once more, about 19%% more time)",
    )
    parser.add_argument(
        "--flag",
        nargs="?",
        const=DEFAULT_SPEC,
        metavar="CONDITIONS",
        help="add the breakpoint conditions that fired on each line ('translation ||| flags: "
        "repeated_ngram@5, uncovered_at_eos@9', 0-based steps; a 'flags' list with --json) "
        "and a summary on stderr. CONDITIONS: comma-separated NAME[=VALUE] of entropy, "
        "low_probability, repeated_ngram (repeat), stuck_attention (stuck), uncovered_at_eos "
        f"(uncovered), over_covered (over), no_eos (no-eos: N or Nx), token (PIECE or #ID); "
        f"alone: {DEFAULT_SPEC}",
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.training import distributed

    try:
        config_from_options(args, text=True)  # bad options fail before the load
        if args.output:
            check_output_path(args.output, "-o")
        breakpoints = load_flags(args.flag)
        set_decode_threads(args.threads)
        model = load_inference_model(args.checkpoint, device=args.device)
        if args.int8:
            use_int8(model)
        if model.task != "translation":
            return fail(f"{args.checkpoint} is a {model.task} model; use `attnscope caption`")
        choose_languages(args, model)
        if args.align and not model.model.num_heads:
            return fail(f"{args.checkpoint} has no attention to read alignments from")
        config = decode_config_from_args(args, text=True, recommended=recommended_decoding(model))
        if breakpoints is not None:
            config = prepare_config(breakpoints, config, model, args.checkpoint)
        if args.step_entropy:
            config = replace(config, step_entropy=True)
        lines = read_input_lines(args.input, "-i")
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    context = distributed.init_distributed() if distributed.launched_by_torchrun() else None
    mine = distributed.shard_for_rank(lines, context)
    sink = None
    try:  # one process writes window by window; torchrun ranks gather at the end
        sink = _OrderedOutput(args.output) if context is None else None
        outputs, flagged = _translate_lines(model, mine, config, args, breakpoints, sink)
        if sink is not None:
            sink.finish()
    except AttnScopeError as exc:
        return fail(str(exc))
    finally:
        if sink is not None:
            sink.close()
    if context is not None:
        ordered = distributed.gather_in_order(outputs, context)  # strings or JSON-ready records
        if breakpoints is not None:
            flagged = distributed.gather_in_order(flagged, context)
        distributed.shutdown_distributed()
        if not context.is_main:
            return 0
    if breakpoints is not None:
        print(flag_summary(flagged, breakpoints.conditions), file=sys.stderr)
    return 0 if context is None else _write(ordered, args)


def _translate_lines(model, lines: list[str], config, args, breakpoints, sink):
    """Translate ``lines`` in length-sorted batches (engine/batch.py's windows).

    Each finished window goes to ``sink`` in input order, or, without a sink
    (torchrun), into the returned outputs. Returns (outputs, flagged): flagged
    holds, per line, the names of the conditions that fired (None: no --flag,
    or no translation).
    """
    from attnscope.engine.batch import translate_windows

    outputs, flagged = [], []
    bar = progress_bar(len(lines), "lines", desc="translate")
    bar.update(sum(not line.strip() for line in lines))  # empty lines need no work
    windows = translate_windows(
        model, lines, config, batch_size=max(args.batch_size, 1), on_batch=bar.update
    )
    first = 0
    try:
        for outcomes in windows:
            shown = []
            for line, outcome in zip(lines[first : first + len(outcomes)], outcomes, strict=True):
                if isinstance(outcome, AttnScopeError):
                    print(f"attnscope: line skipped: {outcome}", file=sys.stderr)
                hits = flags_of(outcome, breakpoints, model.piece)
                flagged.append(None if hits is None else sorted({h.condition for h in hits}))
                shown.append(_shown(line, outcome, args, config, hits))
            first += len(outcomes)
            if sink is None:
                outputs += shown
            else:
                sink.write(shown, as_json=args.json)
    finally:
        bar.close()
    return outputs, flagged


def _shown(line: str, outcome, args: argparse.Namespace, config, hits) -> object:
    """One line's output: its text line, or its decode record with --json."""
    if args.json:
        return _as_record(line, outcome, args.checkpoint, config, align=args.align, flags=hits)
    return _as_text(outcome, align=args.align, flags=hits)


class _OrderedOutput:
    """Where one process writes its lines, window by window, in input order.

    Standard output is written and flushed per window. A file (``-o OUT``) is
    written to ``OUT.partial`` and renamed to ``OUT`` by ``finish()``: an
    interrupted run leaves every finished window in ``OUT.partial`` and never a
    silently truncated ``OUT``. An existing special file (``-o /dev/stdout``, a
    FIFO) is written directly.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._partial: Path | None = None
        self._handle = sys.stdout
        if path is None:
            return
        direct = os.path.exists(path) and special_file_kind(path) is not None
        self._partial = None if direct else Path(f"{path}.partial")
        try:
            self._handle = open(path if direct else self._partial, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise DataError(f"cannot write -o {display_path(path)}: {exc.strerror}") from exc

    def write(self, items: list[object], *, as_json: bool) -> None:
        text = "".join((json_line(item) if as_json else str(item)) + "\n" for item in items)
        try:
            self._handle.write(text)
            self._handle.flush()
        except OSError as exc:
            if self.path is None:
                raise  # a closed pipe: the CLI ends quietly
            raise DataError(f"cannot write -o {display_path(self.path)}: {exc.strerror}") from exc

    def finish(self) -> None:
        """All lines written: close the file and give it its name."""
        self.close()
        if self._partial is not None:
            os.replace(self._partial, self.path)
            self._partial = None

    def close(self) -> None:
        if self.path is not None and not self._handle.closed:
            self._handle.close()


def _as_text(outcome, *, align: bool, flags=None) -> str:
    """One output line: the translation (then ``||| links`` when aligning, then
    ``||| flags: ...`` when flagging), or empty."""
    if outcome is None or isinstance(outcome, AttnScopeError):
        return ""
    parts = [outcome.text]
    if align:
        parts.append(_alignment(outcome))
    if flags is not None:
        parts.append(flags_text(flags))
    return " ||| ".join(parts)


def _as_record(line: str, outcome, checkpoint: str, config, *, align: bool, flags=None) -> dict:
    """One line's decode record (engine/decode_record.py), as --json prints it."""
    named = {"model": checkpoint, "settings": config}
    if outcome is None:
        return no_decode_record(task=TRANSLATION, source=line, **named)
    if isinstance(outcome, AttnScopeError):
        return no_decode_record(task=TRANSLATION, source=line, error=str(outcome), **named)
    return translation_record(outcome, align=align, flags=flags, **named)


def _alignment(t) -> str:
    """Pharaoh word links of one translation (empty when it has no attention)."""
    from attnscope.engine.alignment import hard_alignment, pharaoh

    if t.attention is None:
        return ""
    return pharaoh(hard_alignment(t.attention, t.source_pieces, t.pieces))


def _write(ordered: list[object], args: argparse.Namespace) -> int:
    """Write in input order; a file is written whole to a temp name, then renamed."""
    text = "".join((json_line(item) if args.json else str(item)) + "\n" for item in ordered)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomically(args.output, text, "-o")
    except AttnScopeError as exc:
        return fail(str(exc))
    return 0
