"""Read text that is not UTF-8: which encoding it is in, and a name for it a reader understands.

`detect(data, declared)` tries, in order: an encoding the file or server declares (an HTML
`<meta charset>`, an HTTP `charset=`, a sidecar's "encoding"), Windows-1252 when the result reads
as Western text, then charset-normalizer's best guess. Windows-1252 comes before the guess on
purpose: on short Western articles charset-normalizer 3.5 prefers look-alike code pages (it read an
English sentence with curly quotes as cp775 and French Latin-1 as cp1250), while Windows-1252 is
what nearly every non-UTF-8 Western page is in (browsers read "latin-1" as it too). The check
that the result reads as Western text keeps Cyrillic, Greek or Japanese bytes away from it.

Deliberately not here: byte order marks and UTF-8 (loading.py tries those first).
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# Non-ASCII characters that ordinary Western text has besides letters.
_WESTERN_MARKS = set("“”‘’‚„–—…€£¥¢©®™°±×÷·•«»§¶¿¡½¼¾²³µ")
_NAMES = {
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1 (ISO-8859-1)",
    "iso8859_15": "Latin-9 (ISO-8859-15)",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "shift_jis": "Shift_JIS",
    "cp932": "Shift_JIS (Windows-31J)",
    "euc_jp": "EUC-JP",
    "gb2312": "GB2312",
    "gb18030": "GB18030",
    "big5": "Big5",
    "euc_kr": "EUC-KR",
    "koi8_r": "KOI8-R",
}


def display_name(encoding: str) -> str:
    """ "cp1252" -> "Windows-1252"; an encoding without a common name keeps Python's."""
    try:
        canonical = codecs.lookup(encoding).name.replace("-", "_")
    except LookupError:
        return encoding
    return _NAMES.get(canonical, canonical)


def detect(data: bytes, declared: str | None = None) -> tuple[str | None, str]:
    """(text, how it was read) or (None, why it could not be read).

    >>> detect("“Café” – 5 €".encode("cp1252"))
    ('“Café” – 5 €', 'Windows-1252 (detected)')
    """
    if declared:
        try:
            text = data.decode(declared)
            if plausible(text):
                return text, f"{display_name(declared)} (declared)"
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        text = data.decode("cp1252")
        if plausible(text) and western(text):
            return text, "Windows-1252 (detected)"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # lazy: only for the rare file that is not UTF-8

    best = from_bytes(data).best()
    if best is None:
        return None, "its encoding could not be detected"
    text = str(best)
    if not plausible(text):
        return None, f"it does not read as text in any encoding (the closest is {display_name(best.encoding)})"
    return text, f"{display_name(best.encoding)} (detected by charset-normalizer)"


def plausible(text: str) -> bool:
    """Text, not binary read as text: almost no control or unassigned characters."""
    odd = sum(1 for ch in text if ch not in "\n\r\t\f" and unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs"))
    return bool(text.strip()) and odd <= len(text) / 200


def western(text: str) -> bool:
    """Does this read as a Western language: mostly ASCII letters, the rest accented letters and
    typographic marks? (Cyrillic or Greek bytes read as Windows-1252 become runs of accented letters.)"""
    letters = re.findall(r"[^\W\d_]", text)
    foreign = [ch for ch in letters if not ch.isascii()]
    if not letters or len(foreign) > 0.3 * len(letters):
        return False
    symbols = [ch for ch in text if not ch.isascii() and not ch.isalpha() and not ch.isspace()]
    return all(ch in _WESTERN_MARKS for ch in symbols)
