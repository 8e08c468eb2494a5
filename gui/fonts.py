"""Does this system have a font for the text being shown? (A warning, not a fix.)

Qt falls back across installed fonts on its own, so a script renders as long
as *some* installed font covers it. A bare Linux box often has only Latin
fonts (DejaVu), and Chinese source text then shows as empty boxes on the
heat map's axis: this module notices that and names the package to install.
"""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase

WS = QFontDatabase.WritingSystem

# script label -> (code point ranges, writing systems any of which will do, package hint)
SCRIPTS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[WS, ...], str]] = {
    "Chinese": (
        ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)),
        (WS.SimplifiedChinese, WS.TraditionalChinese, WS.Japanese),
        "fonts-noto-cjk or fonts-wqy-microhei",
    ),
    "Japanese kana": (
        ((0x3040, 0x30FF),),
        (WS.Japanese,),
        "fonts-noto-cjk",
    ),
    "Korean": (
        ((0xAC00, 0xD7AF), (0x1100, 0x11FF)),
        (WS.Korean,),
        "fonts-noto-cjk",
    ),
}


def scripts_in(text: str) -> list[str]:
    """The labels of SCRIPTS that occur in ``text``, in SCRIPTS order."""
    points = {ord(ch) for ch in text if ord(ch) >= 0x1100}
    return [
        label
        for label, (ranges, _, _) in SCRIPTS.items()
        if any(low <= p <= high for p in points for low, high in ranges)
    ]


def has_font_for(label: str) -> bool:
    """True when an installed font family declares one of the script's writing systems."""
    _, systems, _ = SCRIPTS[label]
    return any(QFontDatabase.families(system) for system in systems)


def missing_font_message(text: str, already_warned: set[str]) -> str | None:
    """A message for the first script in ``text`` with no font (each script warned once)."""
    for label in scripts_in(text):
        if label in already_warned or has_font_for(label):
            continue
        already_warned.add(label)
        package = SCRIPTS[label][2]
        return (
            f"No installed font can show {label} characters, so they appear as boxes. "
            f"Install one (Debian/Ubuntu: {package}) and restart AttnScope; "
            "translation itself is not affected."
        )
    return None
