"""Corpus metrics as pure functions over lists of strings.

Translation: BLEU and chrF from sacrebleu, each reported with its signature
(tokenizer, smoothing, version...) so numbers are comparable across papers.
Captioning: BLEU-1..4 and CIDEr-D from pycocoevalcap's pure-Python scorers
(its Java PTB tokenizer is not used; see ``caption_tokenize``).

What "CIDEr-D" means here: pycocoevalcap's ``Cider`` scorer, which is the
CIDEr-D variant of Vedantam et al. (2015) as used by the COCO caption server:
TF-IDF weighted 1..4-gram cosine similarity with the hypothesis' n-gram
counts clipped by the reference's, a Gaussian length penalty (sigma = 6),
averaged over n and over references, times 10. Document frequencies (IDF)
come from the references of the evaluated set itself, so scores on a small
set are not comparable with scores on the full COCO test set.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

CJK_PATTERN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})


@dataclass(frozen=True)
class CorpusScore:
    """One corpus-level score with the sacrebleu signature that defines it."""

    name: str  # "BLEU" | "chrF"
    score: float  # 0..100
    signature: str  # e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    details: str  # sacrebleu's one-line summary (n-gram precisions, brevity penalty...)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "score": self.score,
            "signature": self.signature,
            "details": self.details,
        }


def _check_lengths(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} references; "
            "they must be line-aligned"
        )
    if not hypotheses:
        raise ValueError("no sentences to score")


def pick_bleu_tokenizer(references: Sequence[str]) -> str:
    """sacrebleu tokenizer for these references: "zh" when mostly CJK text, else "13a"."""
    text = "".join(references[:1000])
    letters = sum(1 for c in text if not c.isspace())
    cjk = len(CJK_PATTERN.findall(text))
    return "zh" if letters and cjk / letters > 0.3 else "13a"


def bleu(
    hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "auto"
) -> CorpusScore:
    """Corpus BLEU of detokenized hypotheses against one reference each (sacrebleu).

    ``tokenize="auto"`` uses sacrebleu's "zh" tokenizer for Chinese/Japanese/Korean
    references and its default "13a" otherwise; any sacrebleu tokenizer name works.
    """
    from sacrebleu.metrics import BLEU

    _check_lengths(hypotheses, references)
    if tokenize == "auto":
        tokenize = pick_bleu_tokenizer(references)
    metric = BLEU(tokenize=tokenize)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return CorpusScore("BLEU", float(result.score), str(metric.get_signature()), str(result))


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> CorpusScore:
    """Corpus chrF (character 6-grams, beta 2) against one reference each (sacrebleu)."""
    from sacrebleu.metrics import CHRF

    _check_lengths(hypotheses, references)
    metric = CHRF()
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return CorpusScore("chrF", float(result.score), str(metric.get_signature()), str(result))


def caption_tokenize(text: str) -> str:
    """Simple caption tokenization: lower-case, punctuation to spaces, single spaces."""
    return " ".join(text.lower().translate(_PUNCTUATION).split())


def caption_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """BLEU-1..4 and CIDEr-D of one caption per image against its reference captions.

    hypotheses: one generated caption per image; references: the human captions
    of the same image (one or more each). Both are tokenized with
    ``caption_tokenize``. Returns {"BLEU-1": .., ..., "BLEU-4": .., "CIDEr-D": ..}
    with BLEU in 0..1 (pycocoevalcap's convention) and CIDEr-D in 0..10.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} captions but {len(references)} reference lists")
    if not hypotheses:
        raise ValueError("no captions to score")
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every image needs at least one reference caption")
    res = {i: [caption_tokenize(h)] for i, h in enumerate(hypotheses)}
    gts = {i: [caption_tokenize(r) for r in refs] for i, refs in enumerate(references)}
    bleu_n, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)
    scores = {f"BLEU-{n + 1}": float(value) for n, value in enumerate(bleu_n)}
    scores["CIDEr-D"] = float(cider)
    return scores


def perplexity(mean_nll: float) -> float:
    """exp(mean negative log-likelihood per token), capped to stay finite."""
    import math

    return math.exp(min(mean_nll, 50.0))


__all__ = [
    "CorpusScore",
    "bleu",
    "caption_scores",
    "caption_tokenize",
    "chrf",
    "perplexity",
    "pick_bleu_tokenizer",
]
