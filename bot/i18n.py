"""Translations: gettext catalogues in `locales/`, Vietnamese first, English.

The `.po` files are compiled in memory at start (Babel), so a catalogue edit
needs no build step and a stale `.mo` can never ship. Message ids are the
English texts, as gettext expects.
"""

from __future__ import annotations

import gettext
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "congdan"
LANGUAGES = ("vi", "en")


def N_(message: str) -> str:
    """Mark a text for extraction where it is translated later, at render time."""
    return message


def nfc(text: str) -> str:
    """Vietnamese text is stored and compared in NFC (TCVN 6909:2011)."""
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Translator:
    language: str
    _translations: gettext.NullTranslations

    def gettext(self, message: str, /, **values: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**values) if values else text

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        text = self._translations.ngettext(singular, plural, n)
        return text.format(n=n, **values)

    def datetime(self, at: datetime, zone: ZoneInfo, fmt: str = "HH:mm EEEE dd/MM/yyyy") -> str:
        return format_datetime(at.astimezone(zone), fmt, locale=self.language)

    def pick(self, vi: str, en: str) -> str:
        """Choose between the two names that data (agencies, topics) carries."""
        return vi if self.language == "vi" else (en or vi)


@cache
def _load(language: str, locales_dir: Path = LOCALES_DIR) -> gettext.NullTranslations:
    po_path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translator(language: str) -> Translator:
    language = language if language in LANGUAGES else LANGUAGES[0]
    return Translator(language, _load(language))


def language_from_client(code: str | None, default: str) -> str:
    """Map the messenger's language (e.g. "en-US", "vi") onto a catalogue we have."""
    if code:
        base = code.split("-")[0].lower()
        if base in LANGUAGES:
            return base
        # Foreigners living in the province read English better than Vietnamese.
        return "en"
    return default


Gettext = Callable[..., str]
