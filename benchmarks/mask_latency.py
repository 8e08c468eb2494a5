"""How soon a masked re-caption shows its first new token: the app's worker, measured.

Issue 18 asks that re-decoding after a mask shows its first new token within
100 ms on the default models. This drives the real ``WorkerClient`` (its own
QThread, queued requests, offscreen Qt) the way the caption view does: load
the checkpoint, caption a bundled picture to the end, then ask
``recaption_masked`` ``--repeats`` times per fill with the centre quarter of
the picture masked. For each request it records

- **worker**: perf_counter from the request to the first new token taken
  (filling the mask, preprocessing, encoding the picture and the first step);
- **shown**: from the request until that first-token answer is handled in the
  GUI thread (what the user sees, before drawing).

    python -m benchmarks.mask_latency --repeats 20 --fills grey,blur,noise
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence

import numpy as np

CHECKPOINT_NAME = "flickr8k-mobilenet.safetensors"
PICTURE_NAME = "coffee.jpg"
TIMEOUT_S = 120


def _wait(app, done, timeout_s: float = TIMEOUT_S) -> None:
    """Process Qt events until ``done()`` (or raise TimeoutError)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not answer in time")
        app.processEvents()
        time.sleep(0.0005)


def _caption_to_end(app, client, picture, config):
    """Open and Run the original decode; returns its finished SessionSnapshot."""
    shown = []
    client.worker.snapshot.connect(shown.append)
    client.open_session(picture, config)
    _wait(app, lambda: bool(shown))
    client.run()
    _wait(app, lambda: shown[-1].done)
    return shown[-1]


def measure(checkpoint: str, picture: str, fills: Sequence[str], repeats: int) -> dict:
    """Per fill, the worker and shown times (ms) of ``repeats`` masked re-captions."""
    from PySide6.QtWidgets import QApplication

    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.image_masks import rect_mask
    from attnscope.gui.image_what_if import MaskedCaptionRequest
    from attnscope.gui.worker_client import WorkerClient

    app = QApplication.instance() or QApplication([])
    client = WorkerClient(reserve_cores_for_gui=1)
    failures: list[str] = []
    client.worker.failed.connect(failures.append)
    loaded: list = []
    client.worker.loaded.connect(loaded.append)
    client.load_checkpoint(checkpoint, "cpu")
    _wait(app, lambda: bool(loaded) or bool(failures))
    config = DecodeConfig()
    original = _caption_to_end(app, client, picture, config)
    height, width = original.image.shape[:2]
    mask = rect_mask((height, width), width / 4, height / 4, 3 * width / 4, 3 * height / 4)
    answers: list = []
    arrived: dict[int, float] = {}

    def on_answer(result) -> None:
        answers.append(result)
        arrived.setdefault(result.serial, time.perf_counter())

    client.worker.maskedCaption.connect(on_answer)
    times: dict[str, dict[str, list[float]]] = {}
    serial = 0
    for fill in fills:
        worker_ms, shown_ms = [], []
        for _ in range(repeats):
            serial += 1
            started = time.perf_counter()
            request = MaskedCaptionRequest(original.image, mask, fill, 0, started, serial)
            client.recaption_masked(request, config)
            _wait(app, lambda s=serial: any(a.serial == s and a.done for a in answers) or failures)
            if failures:
                raise RuntimeError(failures[-1])
            first = next(a for a in answers if a.serial == serial)
            worker_ms.append(first.first_token_ms)
            shown_ms.append((arrived[serial] - started) * 1000)
        times[fill] = {"worker_ms": worker_ms, "shown_ms": shown_ms}
    client.shutdown()
    return {"original": original.target_text, "masked_share": float(mask.mean()), "times": times}


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered):.1f} ms, p90 {p90:.1f}, max {ordered[-1]:.1f}"


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mask_latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-c", "--checkpoint", help=f"default: the bundled {CHECKPOINT_NAME}")
    parser.add_argument("--picture", help=f"default: the bundled example {PICTURE_NAME}")
    parser.add_argument("--repeats", type=int, default=20, help="re-captions per fill")
    parser.add_argument("--fills", default="grey,blur,noise")
    parser.add_argument("--json", metavar="OUT", help="also write the times as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from attnscope.engine.resources import resource_dir

    checkpoint = args.checkpoint or str(resource_dir() / "checkpoints" / CHECKPOINT_NAME)
    picture = args.picture or str(resource_dir() / "examples" / PICTURE_NAME)
    fills = [f.strip() for f in args.fills.split(",") if f.strip()]
    result = measure(checkpoint, picture, fills, args.repeats)
    result.update(checkpoint=checkpoint, picture=picture, load_average=os.getloadavg()[0])
    print(
        f"original caption: {result['original']}; mask: {100 * result['masked_share']:.0f} % of the picture"
    )
    for fill, times in result["times"].items():
        print(f"{fill:5} worker first token: {_summary(times['worker_ms'])}")
        print(f"{fill:5} shown in GUI thread: {_summary(times['shown_ms'])}")
    print(
        f"load average {result['load_average']:.2f}, {int(np.prod([len(fills), args.repeats]))} requests"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
