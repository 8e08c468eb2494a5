"""OpenNMT-py peer for `attnscope bench`: the same beam-search workload, timed in OpenNMT-py.

Run by the *peer* venv's python (see setup_opennmt_peer.sh), never imported by
AttnScope (OpenNMT-py 3.5.1 needs torch<2.3):

    <peer-venv>/bin/python benchmarks/opennmt_peer.py WORKLOAD.json

WORKLOAD.json (written by attnscope.engine.bench.PeerWorkload.to_json):
    sources      list of token-id lists (ids 4..vocab-1; 0 pad, 1 unk, 2 bos, 3 eos)
    vocab        source and target vocabulary size
    embed        word vector size
    hidden       rnn size: the bi-GRU encoder splits it over two directions,
                 the GRU decoder has it whole
    layers       encoder and decoder layers (OpenNMT-py hands the encoder's
                 final state to the decoder, so both have the same count)
    beam, batch, length, repeats, threads, seed

The model is -encoder_type brnn -decoder_type rnn -rnn_type GRU
-global_attention mlp (input feeding on), random weights. Every sentence is
forced to exactly ``length`` target tokens (min_length = max_length), so the
work equals AttnScope's. Prints one JSON object on stdout:
{"tokens_per_s": [...one per repeat], "tokens": int, "versions": {...}}.
"""

from __future__ import annotations

import json
import sys
import time


def build_model(workload: dict):
    """An OpenNMT-py NMTModel with the workload's sizes and random weights, plus its vocabs."""
    import pyonmttok
    import torch
    from onmt.constants import DefaultTokens
    from onmt.model_builder import build_base_model
    from onmt.opts import train_opts
    from onmt.utils.parse import ArgumentParser

    specials = [DefaultTokens.PAD, DefaultTokens.UNK, DefaultTokens.BOS, DefaultTokens.EOS]
    tokens = specials + [f"w{i}" for i in range(len(specials), workload["vocab"])]
    vocab = pyonmttok.build_vocab_from_tokens(tokens)
    vocabs = {
        "src": vocab,
        "tgt": vocab,
        "data_task": "seq2seq",
        "decoder_start_token": DefaultTokens.BOS,
    }
    parser = ArgumentParser()
    train_opts(parser)
    size, layers = str(workload["hidden"]), str(workload["layers"])
    opt = parser.parse_args(
        ["-data", "unused", "-save_data", "unused", "-src_vocab", "unused"]
        + ["-encoder_type", "brnn", "-decoder_type", "rnn", "-rnn_type", "GRU"]
        + ["-global_attention", "mlp", "-input_feed", "1", "-dropout", "0.0"]
        + ["-word_vec_size", str(workload["embed"]), "-hidden_size", size, "-layers", layers]
    )
    ArgumentParser.update_model_opts(opt)
    ArgumentParser.validate_model_opts(opt)
    model = build_base_model(opt, vocabs)
    generator = torch.Generator().manual_seed(workload["seed"])
    with torch.no_grad():
        for param in model.parameters():  # the generator is built with skip_init
            param.copy_(torch.empty_like(param).uniform_(-0.1, 0.1, generator=generator))
    model.eval()
    return model, vocabs


def build_translator(model, vocabs, workload: dict):
    from onmt.translate import GNMTGlobalScorer, Translator

    scorer = GNMTGlobalScorer(alpha=0.0, beta=0.0, length_penalty="none", coverage_penalty="none")
    return Translator(
        model,
        vocabs,
        gpu=-1,
        n_best=1,
        min_length=workload["length"],
        max_length=workload["length"],
        max_length_ratio=0,
        beam_size=workload["beam"],
        global_scorer=scorer,
        report_score=False,
    )


def make_batches(sources: list[list[int]], batch_size: int) -> list[dict]:
    """OpenNMT-py batch dicts: src (B, S, 1) padded with 0, srclen (B,)."""
    import torch

    batches = []
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        longest = max(len(s) for s in chunk)
        src = torch.zeros(len(chunk), longest, 1, dtype=torch.long)
        for row, ids in enumerate(chunk):
            src[row, : len(ids), 0] = torch.tensor(ids)
        lengths = torch.tensor([len(s) for s in chunk])
        batches.append({"src": src, "srclen": lengths, "indices": torch.arange(len(chunk))})
    return batches


def run(workload: dict) -> dict:
    import onmt
    import torch

    torch.set_num_threads(workload["threads"])
    model, vocabs = build_model(workload)
    translator = build_translator(model, vocabs, workload)
    batches = make_batches(workload["sources"], workload["batch"])
    warm_up = make_batches(workload["sources"][:2], workload["batch"])[0]
    translator.translate_batch(warm_up, attn_debug=False)
    samples, tokens = [], 0
    for _ in range(workload["repeats"]):
        tokens = 0
        start = time.perf_counter()
        for batch in batches:
            result = translator.translate_batch(batch, attn_debug=False)
            tokens += sum(len(best[0]) for best in result["predictions"])
        samples.append(tokens / (time.perf_counter() - start))
    return {
        "tokens_per_s": samples,
        "tokens": tokens,
        "versions": {"opennmt_py": onmt.__version__, "torch": torch.__version__},
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: opennmt_peer.py WORKLOAD.json\n")
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        workload = json.load(handle)
    json.dump(run(workload), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
