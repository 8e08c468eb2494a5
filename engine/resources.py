"""Finding the bundled resources (demo checkpoints, example inputs) as package data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# The app opens this one by default; the others are listed in the gallery.
DEFAULT_CHECKPOINT = "deen-bahdanau.safetensors"


def resource_dir() -> Path:
    """The installed ``attnscope.resources`` folder (works for editable and wheel installs)."""
    return Path(str(resources.files("attnscope.resources")))


def checkpoints() -> list[Path]:
    """Every bundled checkpoint, sorted by name."""
    folder = resource_dir() / "checkpoints"
    return sorted(folder.glob("*.safetensors")) if folder.is_dir() else []


def default_checkpoint() -> Path | None:
    """The de→en demo model when it is bundled, else the first bundled one, else None."""
    preferred = resource_dir() / "checkpoints" / DEFAULT_CHECKPOINT
    if preferred.is_file():
        return preferred
    found = checkpoints()
    return found[0] if found else None


def example_images() -> list[Path]:
    folder = resource_dir() / "examples"
    suffixes = {".jpg", ".jpeg", ".png"}
    return (
        sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
        if folder.is_dir()
        else []
    )


def example_sentences(language: str) -> list[str]:
    """Example source sentences for a language code ("de", "zh"), one per line."""
    path = resource_dir() / "examples" / f"sentences_{language}.txt"
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
