"""Text from a record placed into card Markdown: shown as the characters it is, never as links, images or HTML.

Card ``detail`` is GitHub-Flavored Markdown (CDS Hooks 2.0 §Card attributes). CommonMark lets a backslash escape any
ASCII punctuation character (CommonMark 0.31 §2.4 "Backslash escapes"), so escaping the characters that open links,
images, raw HTML, emphasis, code, tables, strikethrough and entities turns hostile record text into literal text.
GFM's extended autolinks (GFM §6.9) start at ``www.`` or ``scheme://``: their ``.`` / ``:`` are escaped as well.
"""

from __future__ import annotations

import re

# Punctuation that opens Markdown or HTML syntax within a line (CommonMark §2.4 allows escaping all of it); "(", ")"
# and "!" only matter after a "[", which is escaped, and "_" between letters or digits never opens emphasis (§6.2).
_SPECIAL = re.compile(r"[\\`*\[\]<>#|~&]|(?<![^\W_])_|_(?![^\W_])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_AUTOLINK = re.compile(r"(?i)(www)\.|(\w):(?=//)")
_LEADING = re.compile(r"^(\s*)([-+]|\d+[.)])(?=\s|$)")
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def escape_markdown(text: str) -> str:
    """Record text as literal Markdown: one line, its Markdown/HTML punctuation backslash-escaped."""
    line = _LINE_BREAKS.sub(" ", text)
    escaped = _SPECIAL.sub(lambda m: f"\\{m[0]}", line)
    escaped = _AUTOLINK.sub(lambda m: f"{m[1]}\\." if m[1] else f"{m[2]}\\:", escaped)
    return _LEADING.sub(lambda m: f"{m[1]}\\{m[2]}" if m[2] in "-+" else f"{m[1]}{m[2][:-1]}\\{m[2][-1]}", escaped)


def plain_text(markdown: str) -> str:
    """The inverse of backslash escapes: plain text (a card ``summary``) from Markdown-escaped text."""
    return _UNESCAPE.sub(r"\1", markdown)
