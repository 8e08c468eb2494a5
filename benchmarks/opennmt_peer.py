"""OpenNMT-py peer for `attnscope bench`: the same beam-search workload, timed in OpenNMT-py.

Two halves in one file:

- the *server* runs in the peer venv (OpenNMT-py 3.5.1 needs torch<2.3, see
  setup_opennmt_peer.sh) and never imports AttnScope:

      <peer-venv>/bin/python benchmarks/opennmt_peer.py WORKLOAD.json

  It builds the model, warms up, prints one JSON line ``{"ready": true,
  "versions": ..., "threads": ...}``, then answers every line ``pass`` on
  stdin with ``{"tokens": int, "seconds": float}`` (one timed pass over all
  sentences) until stdin closes.
- ``PeerProcess`` (standard library only) is the bench's client: it starts
  the server and asks for passes between its own, so both see the same load
  on a shared machine.

WORKLOAD.json:
    sources      list of token-id lists (ids 4..vocab-1; 0 pad, 1 unk, 2 bos, 3 eos)
    vocab        source and target vocabulary size
    embed        word vector size
    hidden       rnn size: the bi-GRU encoder splits it over two directions,
                 the GRU decoder has it whole
    layers       encoder and decoder layers (OpenNMT-py hands the encoder's
                 final state to the decoder, so both have the same count)
    attention    "mlp" (additive) or "general" (OpenNMT-py's default), optional: mlp
    precision    "fp32" or "int8" (OpenNMT-py's ``-precision int8`` on the CPU:
                 ``torch.quantization.quantize_dynamic`` of the whole model, as its
                 model_builder does), optional: fp32
    sort         true: batches cut from the sentences sorted by length, as
                 OpenNMT-py's own inference batching does; optional: false
    beam, batch, length, threads, seed

The model is -encoder_type brnn -decoder_type rnn -rnn_type GRU
-global_attention ATTENTION (input feeding on), random weights. Every sentence
is forced to exactly ``length`` target tokens (min_length = max_length), so the
work equals AttnScope's.

Where the work differs: with ``mlp`` OpenNMT-py's GlobalAttention projects the
memory bank (the keys) again at every step, for every row and padded position;
AttnScope projects them once per sentence. With ``general`` the step's large
products are the same on both sides (OpenNMT-py projects the query, AttnScope
the keys once); the attention's own products differ: OpenNMT-py runs the scores
and the context per row, AttnScope once per sentence for its k rows
(models/grouped_products.py), which reads a k-th of the memory and avoids MKL's
slow one-column batched product.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


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
        + ["-global_attention", workload.get("attention", "mlp"), "-input_feed", "1"]
        + ["-dropout", "0.0"]
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
    if workload.get("precision", "fp32") == "int8":  # onmt/model_builder.py, -precision int8
        torch.quantization.quantize_dynamic(model, dtype=torch.qint8, inplace=True)
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


def make_batches(sources: list[list[int]], batch_size: int, *, sort: bool = False) -> list[dict]:
    """OpenNMT-py batch dicts: src (B, S, 1) padded with 0, srclen (B,); with ``sort`` the
    batches are cut from the sentences sorted by length (stable)."""
    import torch

    if sort:
        sources = sorted(sources, key=len)
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


def serve(workload: dict, commands, replies) -> None:
    """Build, warm up, say ready, then time one pass per ``pass`` line of ``commands``."""
    import onmt
    import torch

    torch.set_num_threads(workload["threads"])
    model, vocabs = build_model(workload)
    translator = build_translator(model, vocabs, workload)
    batches = make_batches(workload["sources"], workload["batch"], sort=workload.get("sort", False))
    warm_up = make_batches(workload["sources"][:2], workload["batch"])[0]
    translator.translate_batch(warm_up, attn_debug=False)
    versions = {"opennmt_py": onmt.__version__, "torch": torch.__version__}
    settings = {key: workload.get(key) for key in ("attention", "precision", "sort")}
    ready = {"ready": True, "versions": versions, "threads": torch.get_num_threads()}
    _reply(replies, {**ready, **settings})
    for line in commands:
        if line.strip() != "pass":
            _reply(replies, {"error": f"unknown command {line.strip()!r}"})
            continue
        tokens, start = 0, time.perf_counter()
        for batch in batches:
            result = translator.translate_batch(batch, attn_debug=False)
            tokens += sum(len(best[0]) for best in result["predictions"])
        _reply(replies, {"tokens": tokens, "seconds": time.perf_counter() - start})


def _reply(stream, message: dict) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


class PeerProcess:
    """The server above in a subprocess: ``start()``, then ``one_pass()`` -> tokens/s.

    python: the peer venv's interpreter. Errors (the server died, said
    something unexpected) raise RuntimeError quoting its stderr.
    """

    def __init__(self, python: str, workload: dict, *, timeout: float = 1800.0) -> None:
        self.python = python
        self.workload = workload
        self.timeout = timeout
        self.info: dict = {}
        self._process = None
        self._folder = None

    def __enter__(self) -> PeerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        folder = Path(self._folder.name)
        (folder / "workload.json").write_text(json.dumps(self.workload), encoding="utf-8")
        self._stderr = open(folder / "stderr.txt", "w+", encoding="utf-8")  # noqa: SIM115
        self._process = subprocess.Popen(
            [self.python, __file__, str(folder / "workload.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.info = self._read()
        if not self.info.get("ready"):
            raise RuntimeError(f"the peer did not get ready: {self.info}")

    def one_pass(self) -> float:
        """Target tokens/s of one timed pass over every sentence."""
        self._process.stdin.write("pass\n")
        self._process.stdin.flush()
        reply = self._read()
        if "tokens" not in reply:
            raise RuntimeError(f"the peer answered {reply}")
        self.info["tokens"] = reply["tokens"]
        return reply["tokens"] / reply["seconds"]

    def close(self) -> None:
        if self._process is not None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
            self._stderr.close()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _read(self) -> dict:
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=60)
            self._stderr.seek(0)
            tail = " | ".join(self._stderr.read().strip().splitlines()[-3:])
            raise RuntimeError(f"the peer exited with code {self._process.returncode}: {tail}")
        return json.loads(line)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: opennmt_peer.py WORKLOAD.json  (then 'pass' lines on stdin)\n")
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        workload = json.load(handle)
    serve(workload, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
