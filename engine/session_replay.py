"""Opening a session file on its model: check the checkpoint, replay, compare, or show it stored.

- ``checkpoint_ref`` / ``verify_checkpoint``: a checkpoint's size and sha256
  (read in 1 MiB chunks with a progress callback; cached per path, size and
  modification time, so saving and reopening do not hash twice), and the
  refusal when a session's checkpoint is not the file it names.
- ``ReplayPlan`` and ``replay_decode``: retake a saved decode through the one
  step loop (``DecodeSession.steps``): image masks change the picture before it
  is encoded, forced tokens and attention edits are the loop's plan. The autosave's old per-step plan (None or
  a forced id per step) is a ReplayPlan too (``from_token_plan``).
- ``check_replay``: whether the replay reproduced the stored tokens, and where not.
- ``stored_snapshot``: the stored decode as a view record, for when the model is
  missing or refused (read-only: no tree, no live session).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attnscope.engine.errors import SessionFileError
from attnscope.engine.inference_results import SessionSnapshot, TokenStep
from attnscope.engine.session_file import CheckpointRef, SessionFile, StoredDecode

if TYPE_CHECKING:
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.decoding.step_loop import CancelFlag
    from attnscope.engine.inference import InferenceModel
    from attnscope.engine.snapshot import OpenSession

HASH_CHUNK = 1024 * 1024
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
_DIGESTS: dict[tuple[str, int, int], str] = {}  # (real path, size, mtime_ns) -> sha256


# -- the checkpoint ---------------------------------------------------------------------------
def file_sha256(path: str | os.PathLike, progress: Progress | None = None) -> str:
    """The sha256 of ``path`` as 64 hex digits, read a chunk at a time (``progress`` after
    each); remembered while the file's size and modification time stay the same."""
    real = os.path.realpath(path)
    info = os.stat(real)
    key = (real, info.st_size, info.st_mtime_ns)
    if key in _DIGESTS:
        if progress is not None:
            progress(info.st_size, info.st_size)
        return _DIGESTS[key]
    digest, done = hashlib.sha256(), 0
    with open(real, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, info.st_size)
    _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def checkpoint_ref(path: str | os.PathLike, progress: Progress | None = None) -> CheckpointRef:
    """Where the checkpoint is and what it holds, for a session file to name it (a
    Hugging Face model folder: its model files' bytes and digest, engine/folder_digest.py)."""
    real = Path(path)
    size, digest = _size(real), _sha256(real, progress)
    return CheckpointRef(path=str(real), size=size, sha256=digest)


def verify_checkpoint(
    expected: CheckpointRef, path: str | os.PathLike, progress: Progress | None = None
) -> None:
    """Refuse ``path`` unless it is the checkpoint (or model folder) the session was made
    with (size, sha256)."""
    path = Path(path)
    folder = path.is_dir()
    if not (folder or path.is_file()):
        raise SessionFileError(f"the checkpoint {path} does not exist")
    size = _size(path)
    digest = _sha256(path, progress) if size == expected.size else None
    if digest != expected.sha256:
        found = f"sha256 {digest[:12]}…" if digest else f"{size:,} bytes"
        wanted = f"sha256 {expected.sha256[:12]}…" if digest else f"{expected.size:,} bytes"
        what = "model folder" if folder else "checkpoint"
        raise SessionFileError(
            f"{path.name} is not the {what} this session was made with: it has {found}, "
            f"the session's had {wanted}. Open the session with its own {what}."
        )


def _size(path: Path) -> int:
    from attnscope.engine.folder_digest import folder_size

    return folder_size(path) if path.is_dir() else path.stat().st_size


def _sha256(path: Path, progress: Progress | None) -> str:
    from attnscope.engine.folder_digest import folder_sha256

    return (
        folder_sha256(path, file_sha256, progress) if path.is_dir() else file_sha256(path, progress)
    )


# -- replaying ---------------------------------------------------------------------------------
_KIND_CLASSES = {"force": "ForceToken", "attention": "AttentionEdit", "mask": "ImageMask"}


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay retakes: ``steps`` steps with ``interventions`` (engine.interventions
    objects) applied; ``tokens`` is the autosave's per-step form (None: the model's choice,
    an id: forced). A step nothing forces is the model's choice again. ``languages``: the
    (source, target) codes a multilingual folder decoded with, chosen again first."""

    steps: int
    interventions: tuple = ()
    tokens: tuple[int | None, ...] = ()
    languages: tuple[str, str] | None = None

    @classmethod
    def from_token_plan(cls, plan: Sequence[int | None]) -> ReplayPlan:
        """The autosave's form: one entry per step, None (stepped) or the forced token id."""
        return cls(steps=len(plan), tokens=tuple(plan))

    def of_kind(self, kind: str) -> list:
        """The interventions of one kind ("force", "attention", "mask"), in order."""
        name = _KIND_CLASSES[kind]
        return [i for i in self.interventions if type(i).__name__ == name]

    def step_plan(self) -> tuple:
        """The step loop's plan (engine.interventions.plan_from_interventions): the forced
        token id or the AttentionEdit at each step, None where the model chooses."""
        from attnscope.engine.interventions import plan_from_interventions

        plan = dict(enumerate(self.tokens))
        steps = self.of_kind("force") + self.of_kind("attention")
        plan.update(enumerate(plan_from_interventions(steps) if steps else ()))
        plan = {step: entry for step, entry in plan.items() if entry is not None}
        length = max([self.steps, *(step + 1 for step in plan)])
        return tuple(plan.get(step) for step in range(length))


def replay_decode(
    model: InferenceModel,
    source: Any,
    config: DecodeConfig,
    plan: ReplayPlan,
    *,
    cancel: CancelFlag | None = None,
) -> OpenSession:
    """Open ``source`` (masked as the plan says) and retake the plan's steps through the
    session's step loop (``open_for_replay`` then ``replay_steps``; a caller that keeps the
    steps taken before a cancel calls the two itself)."""
    opened = open_for_replay(model, source, config, plan)
    replay_steps(opened, plan, cancel=cancel)
    return opened


def open_for_replay(
    model: InferenceModel, source: Any, config: DecodeConfig, plan: ReplayPlan
) -> OpenSession:
    """A fresh session on ``source``, its picture masked first when the plan has masks,
    on the plan's language pair when it names one (LanguageError for a code the model
    does not offer, or a model that offers no choice: nothing is decoded then)."""
    if plan.languages is not None:
        choose_languages(model, plan.languages)
    masks = plan.of_kind("mask")
    if masks:
        source = masked_picture(model, source, masks)
    return model.open_session(source, config)


def choose_languages(model: InferenceModel, languages: tuple[str, str]) -> None:
    """Choose a saved (source, target) pair on ``model`` (engine/hf/multilingual.py)."""
    from attnscope.engine.hf.multilingual import LanguageError

    source, target = languages
    choose = getattr(model, "set_languages", None)
    if choose is None:
        raise LanguageError(
            f"the session was decoded {source} -> {target}; "
            f"{model.source_path.name} offers no choice of language"
        )
    choose(source=source, target=target)


def replay_steps(
    opened: OpenSession, plan: ReplayPlan, *, cancel: CancelFlag | None = None
) -> None:
    """Take the plan's steps on an open session through its step loop (forced tokens and
    attention edits are the loop's plan); DecodeCancelled keeps the steps taken."""
    opened.session.steps(until=plan.steps, plan=plan.step_plan(), cancel=cancel).run()


def masked_picture(model: InferenceModel, source: Any, masks: Sequence) -> np.ndarray:
    """The picture (H, W, 3) uint8 with every mask filled in turn, as the image what-if does."""
    from attnscope.engine.image_masks import mask_image
    from attnscope.engine.images import load_image

    rgb = source if isinstance(source, np.ndarray) else np.asarray(load_image(source))
    for mask in masks:
        rgb = mask_image(rgb, mask.mask, mask.fill, mask.seed, mean=model.image_mean)
    return rgb


# -- checking and showing ----------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayCheck:
    """How a replay compares with the stored decode."""

    matches: bool  # the same tokens
    first_difference: int | None  # the first step whose token differs
    attention_identical: bool  # and the attention bit for bit
    message: str


def check_replay(stored: StoredDecode, snapshot: SessionSnapshot) -> ReplayCheck:
    """Compare a replayed view record with the stored decode, token by token."""
    stored_ids = stored.token_ids.tolist()
    replayed = [step.token_id for step in snapshot.steps]
    if replayed == stored_ids:
        same = _same_attention(stored.attention, snapshot.attention)
        detail = "attention bit for bit" if same else "attention differs slightly (another device?)"
        message = f"The replay reproduces the stored decode: {len(stored_ids)} tokens, {detail}."
        return ReplayCheck(True, None, same, message)
    first = next(
        (i for i, (a, b) in enumerate(zip(stored_ids, replayed, strict=False)) if a != b),
        min(len(stored_ids), len(replayed)),
    )
    old = snapshot_piece(stored_ids, first, None)
    new = snapshot_piece(replayed, first, snapshot)
    message = (
        f"The replay differs from the stored decode from step {first + 1}: stored {old}, "
        f"replayed {new}. The model, device or software changed since it was saved."
    )
    return ReplayCheck(False, first, False, message)


def snapshot_piece(ids: list[int], index: int, snapshot: SessionSnapshot | None) -> str:
    if index >= len(ids):
        return "nothing (it ended earlier)"
    if snapshot is not None:
        return repr(snapshot.steps[index].piece)
    return f"token {ids[index]}"


def _same_attention(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == np.asarray(b).tobytes()


def stored_snapshot(session: SessionFile) -> SessionSnapshot:
    """The stored decode as a view record (exact arrays, no beam tree), to show read-only."""
    record, decode = session.record, session.decode
    steps = tuple(
        TokenStep(
            token_id=int(decode.token_ids[i]),
            piece=step["piece"],
            log_prob=float(decode.log_probs[i]),
            topk_ids=decode.topk_ids[i],
            topk_probs=decode.topk_probs[i],
            topk_pieces=tuple(c["piece"] for c in step["topk"]),
            forced=step["forced"],
        )
        for i, step in enumerate(record["steps"])
    )
    captioning = session.task == "captioning"
    return SessionSnapshot(
        source_text=session.source.image_name if captioning else session.source.text,
        source_pieces=() if captioning else tuple(record["source_pieces"]),
        target_pieces=tuple(record["pieces"]),
        target_text=record["caption" if captioning else "translation"],
        steps=steps,
        attention=decode.attention,
        num_heads=decode.num_heads,
        num_layers=decode.num_layers,
        source_mixing=decode.source_mixing,
        done=record["done"],
        strategy=session.settings.strategy,
        grid=tuple(record["grid"]) if captioning else None,
        image=session.source.image_rgb if captioning else None,
    )
