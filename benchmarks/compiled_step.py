"""Would a compiled decoder step meet the step-latency target? A measured answer.

``attnscope bench`` divides a batch-1 greedy ``DecodeSession.step`` by the
step's bare matrix products in a tight loop (the floor). The Python step
issues ~25 ATen calls, each through the Python binding; this script writes
the same step once in C++ (the very ATen calls ``AttentionDecoder.step``
makes, in the same order, so the bits are the same), builds it with
``torch.utils.cpp_extension`` and times both through the bench's own
``step_latency``:

    python -m benchmarks.compiled_step [--runs 3] [--checkpoint PATH]   # from the checkout's root

It needs a C++ compiler, ninja and Python's headers; the first build takes
~25 s and is cached by torch (``~/.cache/torch_extensions``). The model must
have the demo's decoder: GRU, additive (Bahdanau) attention before the RNN,
an optional input feed and pre-output layer. Prints the session's own work per
step (around a canned model answer, warm and right after a pass of the
products), then per run and variant the session step, the model step alone
and the floor (ms), and the two ratios.

It is an experiment, not a code path of the app: the app would need a
compiler on every user's machine, and the table shows what is left after it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from attnscope.models.attention import BahdanauAttention
from attnscope.models.decoders import AttentionDecoder
from attnscope.models.state import DecoderState, EncoderMemory

STEP_SOURCE = r"""
#include <torch/extension.h>

// One eval step of AttentionDecoder with Bahdanau placement, additive attention and a
// GRU stack, batch without padding. gru: four tensors per layer; feed: None when the
// decoder has no input feed; pre_weight, pre_bias: None without a pre-output layer.
// Returns log_probs (B, V), hidden (L, B, H), weights (B, 1, S), cumulative, attentional.
std::vector<at::Tensor> step(
    const at::Tensor& tokens, const at::Tensor& hidden, const std::optional<at::Tensor>& feed,
    const at::Tensor& cumulative, const at::Tensor& keys, const at::Tensor& values,
    const at::Tensor& embedding, const at::Tensor& query_weight, const at::Tensor& score_weight,
    const std::vector<at::Tensor>& gru, const at::Tensor& combine_weight,
    const at::Tensor& combine_bias, const std::optional<at::Tensor>& pre_weight,
    const std::optional<at::Tensor>& pre_bias,
    const at::Tensor& proj_weight, const at::Tensor& proj_bias) {
  auto embedded = at::embedding(embedding, tokens);                        // (B, E)
  auto projected = at::linear(hidden[hidden.size(0) - 1], query_weight);   // (B, A)
  auto energy = at::tanh(projected.unsqueeze(1) + keys);                   // (B, S, A)
  auto batch = energy.size(0), length = energy.size(1);
  auto scores = at::mm(energy.view({-1, energy.size(2)}), score_weight.t());
  auto weights = at::softmax(scores.view({batch, 1, length}), -1);         // (B, 1, S)
  auto context = at::bmm(weights, values).squeeze(1);                      // (B, C)
  std::vector<at::Tensor> parts{embedded, context};
  if (feed) parts.push_back(*feed);
  auto inputs = at::cat(parts, -1);
  std::vector<at::Tensor> states;
  for (int64_t layer = 0; layer < hidden.size(0); ++layer) {
    inputs = at::gru_cell(inputs, hidden[layer], gru[4 * layer], gru[4 * layer + 1],
                          gru[4 * layer + 2], gru[4 * layer + 3]);
    states.push_back(inputs);
  }
  auto new_hidden = states.size() == 1 ? inputs.unsqueeze(0) : at::stack(states);
  auto combined = at::cat({inputs, context}, -1);                          // (B, H + C)
  auto attentional = at::tanh(at::linear(combined, combine_weight, combine_bias));
  auto readout = pre_weight ? at::linear(attentional, *pre_weight, pre_bias) : attentional;
  auto log_probs = at::log_softmax(at::linear(readout, proj_weight, proj_bias), -1);
  return {log_probs, new_hidden, weights, cumulative + weights, attentional};
}
"""


def build_extension() -> ModuleType:
    """Compile (or load torch's cached build of) ``STEP_SOURCE``; RuntimeError without tools."""
    missing = [tool for tool in ("c++", "ninja") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"building the compiled step needs {' and '.join(missing)} on PATH")
    from torch.utils.cpp_extension import load_inline

    return load_inline(
        "attnscope_compiled_step",
        cpp_sources=STEP_SOURCE,
        functions=["step"],
        extra_cflags=["-O2"],
    )


class CompiledStep:
    """``model`` with its ``step`` replaced by the compiled one; everything else is the model's.

    Raises ValueError for a decoder the C++ step does not cover.
    """

    def __init__(self, model: nn.Module, extension: ModuleType) -> None:
        decoder = model.decoder
        if not (
            isinstance(decoder, AttentionDecoder)
            and type(decoder.attention) is BahdanauAttention
            and decoder.config.cell == "gru"
            and decoder.config.placement == "bahdanau"
        ):
            raise ValueError(
                "the compiled step covers GRU decoders with additive attention before the RNN"
            )
        self._model, self._extension, self._decoder = model, extension, decoder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def step(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory):
        """What ``model.step`` returns, for a batch without padding in eval mode."""
        if memory.padding is not None or self._decoder.training:
            raise ValueError("the compiled step runs eval batches without padding")
        decoder, output = self._decoder, self._decoder.output
        pre = output.pre if isinstance(output.pre, nn.Linear) else None
        log_probs, hidden, weights, cumulative, attentional = self._extension.step(
            prev_tokens,
            state.hidden,
            state.feed,
            state.cumulative,
            memory.keys,
            memory.values,
            decoder.embedding.weight,
            decoder.attention.query_proj.weight,
            decoder.attention.score.weight,
            decoder.rnn._flat_weights,
            decoder.combine.weight,
            decoder.combine.bias,
            None if pre is None else pre.weight,
            None if pre is None else pre.bias,
            output.proj.weight,
            output.proj.bias,
        )
        new_state = DecoderState(
            hidden=hidden,
            cell=None,
            feed=attentional if decoder.config.input_feed else None,
            alignment=weights,
            cumulative=cumulative,
        )
        return log_probs, new_state, weights


def identical_steps(model: nn.Module, compiled: CompiledStep, memory: EncoderMemory, steps: int):
    """Greedy-decode ``steps`` tokens with both steps side by side; True if every output
    tensor of every step is bit-identical."""
    with torch.inference_mode():
        state = model.init_state(memory)
        tokens = torch.tensor([2])  # bos
        for _ in range(steps):
            expected, expected_state, _ = model.step(tokens, state, memory)
            got, got_state, _ = compiled.step(tokens, state, memory)
            pairs = [(expected, got), (expected_state.hidden, got_state.hidden)]
            pairs += [(expected_state.cumulative, got_state.cumulative)]
            if expected_state.feed is not None:
                pairs.append((expected_state.feed, got_state.feed))
            if not all(torch.equal(a, b) for a, b in pairs):
                return False
            state, tokens = expected_state, expected.argmax(1)
    return True


class _CannedModel:
    """A model whose every step returns one precomputed answer: the session's own work alone."""

    training = False

    def __init__(self, model: nn.Module, answer: tuple) -> None:
        self._model, self._answer = model, answer

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        return self._model.init_state(memory)

    def step(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory):
        return self._answer


def bookkeeping_us(model: nn.Module, memory: EncoderMemory, steps: int, rounds: int = 20):
    """Median µs of ``DecodeSession.step`` around a canned model answer: warm (step after
    step) and cold (each step right after one untimed pass of the step's bare products)."""
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.session import DecodeSession
    from benchmarks.step_floor import capture_matmuls, gemm_replay

    def one_step():
        with torch.inference_mode():
            return model.step(torch.tensor([2]), model.init_state(memory), memory)

    products = gemm_replay(capture_matmuls(one_step))
    canned = _CannedModel(model, one_step())
    config = DecodeConfig(strategy="greedy", max_length=steps, min_length=steps, max_length_ratio=0)
    samples: dict[str, list[float]] = {"warm": [], "cold": []}
    for _ in range(rounds):
        for name, samples_of in samples.items():
            session = DecodeSession(canned, memory, config)
            for _ in range(steps):
                if name == "cold":
                    products()
                start = time.perf_counter()
                session.step()
                samples_of.append(time.perf_counter() - start)
    return {name: 1e6 * statistics.median(values) for name, values in samples.items()}


def _load_model(checkpoint: Path | None) -> nn.Module:
    from attnscope.engine.checkpoint import load_checkpoint
    from attnscope.engine.resources import DEFAULT_CHECKPOINT, resource_dir

    path = checkpoint or resource_dir() / "checkpoints" / DEFAULT_CHECKPOINT
    loaded = load_checkpoint(path)
    model = getattr(loaded, "model", loaded)
    return model.eval()


def main(argv: list[str] | None = None) -> None:
    from benchmarks.step_floor import step_latency
    from benchmarks.workloads import BenchSizes, pad_batch, random_sources

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (default 3)")
    parser.add_argument("--checkpoint", type=Path, help="default: the bundled de->en demo")
    parser.add_argument("--steps", type=int, default=50, help="steps per timed decode")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = _load_model(args.checkpoint)
    compiled = CompiledStep(model, build_extension())
    source = random_sources(1, model.config.src_vocab, lengths=(20, 20), seed=0)
    with torch.inference_mode():
        memory = model.encode(*pad_batch(source))
    same = identical_steps(model, compiled, memory, args.steps)
    print(f"compiled step bit-identical to model.step over {args.steps} steps: {same}")
    cost = bookkeeping_us(model, memory, args.steps)
    print(
        f"session work around a canned model answer: {cost['warm']:.0f} µs warm,"
        f" {cost['cold']:.0f} µs right after a pass of the products"
    )
    sizes = BenchSizes(latency_steps=args.steps, latency_repeats=5)
    print(
        f"{'run':4s} {'step':9s} {'session ms':>10s} {'model ms':>9s} {'floor ms':>9s}"
        f" {'session/floor':>14s} {'model/floor':>12s}"
    )
    for run in range(args.runs):  # the two variants take turns, so noise hits both
        for name, variant in (("python", model), ("compiled", compiled)):
            figures = step_latency(variant, sizes)
            session, bare, floor = (
                statistics.median(figures[key])
                for key in ("greedy_step_ms", "model_step_ms", "gemm_floor_ms")
            )
            ratio = statistics.median(figures["step_vs_floor_ratios"])
            print(
                f"{run:<4d} {name:9s} {session:10.3f} {bare:9.3f} {floor:9.3f}"
                f" {ratio:14.2f} {bare / floor:12.2f}"
            )


if __name__ == "__main__":
    main()
