"""`attnscope evaluate`: score a checkpoint on held-out data.

Translation::

    attnscope evaluate -c CKPT --src test.de --ref test.en [--beam 5] [--json]

prints corpus BLEU and chrF (sacrebleu) with their signatures. Captioning::

    attnscope evaluate -c CKPT --images DIR --captions captions.txt \\
        [--split-file splits.tsv --split dev] [--json]

prints BLEU-1..4 and CIDEr-D (pycocoevalcap, see ``attnscope.engine.metrics``)
of one caption per image against all of its reference captions.

Decoding options are those of ``translate`` / ``caption``. Under torchrun
the inputs are sharded over the processes and rank 0 prints the scores.
Exit status: 0 on success, 2 for unusable inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from attnscope.engine.commands.common import (
    add_decode_arguments,
    config_from_options,
    decode_config_from_args,
    fail,
    progress_bar,
    read_input_lines,
    recommended_decoding,
)
from attnscope.engine.cpu_threads import add_threads_argument, set_decode_threads
from attnscope.engine.hf.multilingual import add_language_arguments, choose_languages
from attnscope.engine.input_files import (
    check_output_path,
    display_path,
    write_text_atomically,
)
from attnscope.engine.quantize import add_int8_argument, use_int8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    add_language_arguments(parser)
    text = parser.add_argument_group("translation")
    text.add_argument("--src", metavar="FILE", help="source sentences, one per line (.gz ok)")
    text.add_argument("--ref", metavar="FILE", help="reference translations, line-aligned")
    text.add_argument(
        "--tokenize", default="auto", help="sacrebleu BLEU tokenizer (auto: zh for CJK, else 13a)"
    )
    images = parser.add_argument_group("captioning")
    images.add_argument("--images", metavar="DIR", help="image folder")
    images.add_argument("--captions", metavar="CSV", help="image,caption CSV (references)")
    images.add_argument("--split-file", metavar="TSV", help="image<TAB>split file")
    images.add_argument(
        "--split",
        nargs="+",
        default=["test"],
        metavar="NAME",
        help="split(s) to score with --split-file (default: test)",
    )
    add_threads_argument(parser)
    add_int8_argument(parser)
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="score the first N only")
    parser.add_argument("--hypotheses", metavar="FILE", help="also write the outputs here")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.errors import AttnScopeError
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.training import distributed

    try:
        config_from_options(args, text=True)  # bad options fail before the load
        if args.limit < 0:
            raise ValueError(f"--limit must be 0 (all) or more, got {args.limit}")
        if args.hypotheses:
            check_output_path(args.hypotheses, "--hypotheses")
        set_decode_threads(args.threads)
        model = load_inference_model(args.checkpoint, device=args.device)
        if args.int8:
            use_int8(model)
        text = model.task == "translation"
        if text:
            choose_languages(args, model)
        config = decode_config_from_args(args, text=text, recommended=recommended_decoding(model))
        job = TASK_JOBS[model.task]
        inputs, references = job.read(args)
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    context = distributed.init_distributed() if distributed.launched_by_torchrun() else None
    try:
        mine = distributed.shard_for_rank(inputs, context)
        stages = progress_bar(2, "stages", desc="evaluate")  # decode, then score
        outputs = distributed.gather_in_order(job.decode(model, mine, config, args), context)
        stages.update()
    finally:
        if context is not None:
            distributed.shutdown_distributed()
    if context is not None and not context.is_main:
        return 0
    try:
        if args.hypotheses:
            write_text_atomically(
                args.hypotheses, "".join(t + "\n" for t in outputs), "--hypotheses"
            )
        report = job.score(outputs, references, args)
        stages.update()
    except ValueError as exc:
        return fail(str(exc))
    finally:
        stages.close()
    report.update(  # display_path: a checkpoint name that is not UTF-8 still prints as JSON
        checkpoint=display_path(args.checkpoint), decoding=config.strategy, count=len(outputs)
    )
    sys.stdout.write(
        json.dumps(report, ensure_ascii=False) + "\n" if args.json else job.text(report)
    )
    return 0


class TranslationJob:
    """Source lines in, detokenized translations out, BLEU and chrF."""

    @staticmethod
    def read(args: argparse.Namespace) -> tuple[list[str], list[str]]:
        if not (args.src and args.ref):
            raise ValueError("a translation checkpoint needs --src FILE and --ref FILE")
        sources = read_input_lines(args.src, "--src")
        references = read_input_lines(args.ref, "--ref")
        if len(sources) != len(references):
            raise ValueError(
                f"{args.src} has {len(sources)} lines but {args.ref} has {len(references)}"
            )
        if args.limit:
            sources, references = sources[: args.limit], references[: args.limit]
        if not sources:
            raise ValueError(f"{args.src} has no lines to translate")
        return sources, references

    @staticmethod
    def decode(model, sources: list[str], config, args: argparse.Namespace) -> list[str]:
        """Translations in input order, decoded in length-sorted batches (engine/batch.py's
        windows); empty or untranslatable lines give "" (stderr says why)."""
        from attnscope.engine.batch import translate_windows
        from attnscope.engine.errors import AttnScopeError
        from attnscope.engine.inference_results import Translation

        outputs: list[str] = []
        bar = progress_bar(len(sources), "lines", desc="translate", nested=True)
        bar.update(sum(not s.strip() for s in sources))
        windows = translate_windows(
            model, sources, config, batch_size=max(args.batch_size, 1), on_batch=bar.update
        )
        for outcomes in windows:
            for outcome in outcomes:
                if isinstance(outcome, AttnScopeError):
                    line = len(outputs) + 1
                    print(
                        f"attnscope evaluate: line {line} not translated: {outcome}",
                        file=sys.stderr,
                    )
                outputs.append(outcome.text if isinstance(outcome, Translation) else "")
        bar.close()
        return outputs

    @staticmethod
    def score(outputs: list[str], references: list[str], args: argparse.Namespace) -> dict:
        from attnscope.engine import metrics

        bleu = metrics.bleu(outputs, references, tokenize=args.tokenize)
        chrf = metrics.chrf(outputs, references)
        return {"task": "translation", "bleu": bleu.to_dict(), "chrf": chrf.to_dict()}

    @staticmethod
    def text(report: dict[str, Any]) -> str:
        lines = [f"{report['count']} sentences, {report['decoding']} decoding"]
        for key in ("bleu", "chrf"):
            score = report[key]
            lines.append(f"{score['name']} = {score['score']:.2f}  ({score['signature']})")
        lines.append(report["bleu"]["details"])
        return "\n".join(lines) + "\n"


class CaptioningJob:
    """Image paths in, captions out, BLEU-1..4 and CIDEr-D against every reference."""

    @staticmethod
    def read(args: argparse.Namespace) -> tuple[list[str], list[list[str]]]:
        from attnscope.engine.training.data import load_captioned_images

        if not (args.images and args.captions):
            raise ValueError("a captioning checkpoint needs --images DIR and --captions FILE")
        items = load_captioned_images(
            args.images, args.captions, split_path=args.split_file, splits=args.split
        )
        if args.limit:
            items = items[: args.limit]
        return [str(item.path) for item in items], [list(item.captions) for item in items]

    @staticmethod
    def decode(model, paths: list[str], config, args: argparse.Namespace) -> list[str]:
        """Captions in input order; a picture that cannot be read gives "" (stderr says why)."""
        from attnscope.engine.errors import ImageInputError

        captions = []
        bar = progress_bar(len(paths), "images", desc="caption", nested=True)
        for path in paths:
            try:
                captions.append(model.caption(path, config).text)
            except ImageInputError as exc:
                print(f"attnscope evaluate: {display_path(path)}: {exc}", file=sys.stderr)
                captions.append("")
            bar.update()
        bar.close()
        return captions

    @staticmethod
    def score(outputs: list[str], references: list[list[str]], args: argparse.Namespace) -> dict:
        from attnscope.engine import metrics

        scores = metrics.caption_scores(outputs, references)
        return {
            "task": "captioning",
            **scores,
            "notes": "BLEU-n in 0..1 and CIDEr-D (sigma 6, clipped, x10, IDF from these "
            "references) from pycocoevalcap; captions lower-cased, punctuation removed",
        }

    @staticmethod
    def text(report: dict[str, Any]) -> str:
        names = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D")
        lines = [f"{report['count']} images, {report['decoding']} decoding"]
        lines += [f"{name} = {report[name]:.4f}" for name in names]
        lines.append(f"({report['notes']})")
        return "\n".join(lines) + "\n"


TASK_JOBS = {"translation": TranslationJob, "captioning": CaptioningJob}
