"""What a folder's generation_config.json recommends, as AttnScope's decode settings.

generate() decodes as the folder's generation config says (opus-mt: ``num_beams`` 4 or
6, ``max_length`` 512). ``generation_advice`` maps the options that mean the same thing
in AttnScope onto DecodeConfig fields, the model's ``info["recommended_decoding"]``,
which the CLI and the app apply on load as they apply a checkpoint's:

- ``num_beams`` n > 1 -> beam search of n (1: greedy); ``do_sample`` -> sampling with
  its ``temperature``, ``top_k`` and ``top_p``;
- ``max_new_tokens``, else ``max_length`` less the decoder start token -> ``max_length``
  (and no length ratio: generate() has none); ``min_new_tokens``, else ``min_length``
  less the start token -> ``min_length``;
- ``length_penalty`` 1.0 -> "average" (score / length), 0.0 -> "none";
- ``no_repeat_ngram_size`` -> ``block_ngram_repeat`` (both ban a token that would
  repeat an n-gram of the hypothesis).

Options AttnScope cannot honour exactly are returned by name (``unhonoured``), so the
app's tooltip and ``attnscope info`` say so: another length penalty (decoded with
"average", the nearest), ``early_stopping`` False or "never" (AttnScope's beam stops
with ``num_beams`` finished hypotheses, generate()'s True), a repetition penalty, beam
groups, and the like. ``bad_words_ids``, ``forced_bos_token_id`` and
``forced_eos_token_id`` are applied by the step model (engine/hf/loading.py).

The file is untrusted: engine/hf/folder.py has already bounded it (size, depth, plain
finite JSON); here every value is checked against DecodeConfig's bounds, and one out of
them is named as unhonoured instead of applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from attnscope.engine.decoding.config import MAX_BEAM, MAX_LENGTH, DecodeConfig

# options generate() applies that AttnScope cannot (shown when the file sets them)
_UNHONOURED = (
    "repetition_penalty",
    "encoder_repetition_penalty",
    "encoder_no_repeat_ngram_size",
    "num_beam_groups",
    "diversity_penalty",
    "typical_p",
    "min_p",
    "epsilon_cutoff",
    "eta_cutoff",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
    "sequence_bias",
    "force_words_ids",
    "constraints",
    "renormalize_logits",
    "num_return_sequences",
)
# options that decide the decode: a file setting none of them recommends nothing
_DECIDING = ("num_beams", "do_sample", "max_length", "max_new_tokens")


@dataclass(frozen=True)
class GenerationAdvice:
    """values: DecodeConfig fields (valid together); unhonoured: "option value" texts."""

    values: dict[str, Any]
    unhonoured: tuple[str, ...]


def generation_advice(settings: Any) -> GenerationAdvice | None:
    """The advice of a folder's generation settings (a mapping: the options it sets, as
    ``GenerationConfig.to_diff_dict()`` gives them); None when it sets none of
    num_beams, do_sample, max_length, max_new_tokens."""
    if not isinstance(settings, dict) or not any(k in settings for k in _DECIDING):
        return None
    values: dict[str, Any] = {"max_length_ratio": 0.0}
    unhonoured: list[str] = []

    def take(field: str, value: Any, option: str, shown: Any) -> None:
        try:
            DecodeConfig.from_dict({**values, field: value})
        except (TypeError, ValueError):
            unhonoured.append(f"{option} {shown!r:.40} (out of AttnScope's range)")
            return
        values[field] = value

    _strategy(settings, take, unhonoured)
    _lengths(settings, take, unhonoured)
    ngram = settings.get("no_repeat_ngram_size")
    if _is_int(ngram) and ngram > 0:
        take("block_ngram_repeat", ngram, "no_repeat_ngram_size", ngram)
    for option in _UNHONOURED:
        if option in settings and settings[option] not in (None, 1, 1.0, False, [], 0):
            unhonoured.append(f"{option} {settings[option]!r:.40}")
    bad = settings.get("bad_words_ids")
    if isinstance(bad, list) and any(isinstance(g, list) and len(g) > 1 for g in bad):
        unhonoured.append("bad_words_ids of more than one token")
    return GenerationAdvice(values, tuple(unhonoured))


def _strategy(settings: dict, take, unhonoured: list[str]) -> None:
    """strategy, beam_size, length_penalty, or sampling's temperature, top_k, top_p."""
    if settings.get("do_sample") is True:
        take("strategy", "sampling", "do_sample", True)
        temperature, top_k, top_p = (settings.get(k) for k in ("temperature", "top_k", "top_p"))
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            take("temperature", float(temperature), "temperature", temperature)
        # generate()'s top_k is 50 unless the file says otherwise
        take("top_k", top_k if _is_int(top_k) else 50, "top_k", top_k)
        if isinstance(top_p, int | float) and not isinstance(top_p, bool):
            take("top_p", float(top_p), "top_p", top_p)
        return
    beams = settings.get("num_beams", 1)
    if not _is_int(beams) or not 1 <= beams <= MAX_BEAM:
        unhonoured.append(f"num_beams {beams!r:.40} (AttnScope's beam is 1..{MAX_BEAM})")
        return
    if beams == 1:
        take("strategy", "greedy", "num_beams", beams)
        return
    take("strategy", "beam", "num_beams", beams)
    take("beam_size", beams, "num_beams", beams)
    penalty = settings.get("length_penalty", 1.0)  # generate()'s default divides by length
    exact = {1.0: "average", 0.0: "none"}
    take("length_penalty", exact.get(penalty, "average"), "length_penalty", penalty)
    if penalty not in exact:
        unhonoured.append(
            f"length_penalty {penalty!r:.40} (decoded with average: score / length, its 1.0)"
        )
    stopping = settings.get("early_stopping", True)
    if stopping is not True:
        unhonoured.append(
            f"early_stopping {stopping!r:.40} (AttnScope's beam stops once it has "
            "num_beams finished hypotheses, as with True)"
        )


def _lengths(settings: dict, take, unhonoured: list[str]) -> None:
    """max_length and min_length in generated tokens (generate()'s count the start token)."""
    new, total = settings.get("max_new_tokens"), settings.get("max_length")
    option, tokens = ("max_new_tokens", new) if _is_int(new) else ("max_length", total)
    if _is_int(tokens):
        length = tokens if option == "max_new_tokens" else max(tokens - 1, 1)
        if length > MAX_LENGTH:
            unhonoured.append(f"{option} {tokens} (AttnScope decodes at most {MAX_LENGTH})")
        take("max_length", min(length, MAX_LENGTH), option, tokens)
    new, total = settings.get("min_new_tokens"), settings.get("min_length")
    if _is_int(new) and new > 0:
        take("min_length", new, "min_new_tokens", new)
    elif _is_int(total) and total > 1:
        take("min_length", total - 1, "min_length", total)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
