"""Every text users read is in both catalogues, complete, NFC, with the same placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES_DIR, translator

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def extracted_ids(tmp_path: Path) -> set[str]:
    pot = tmp_path / "congdan.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with pot.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


def catalogue(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / "congdan.po").open("rb") as fh:
        return read_po(fh, locale=language)


@pytest.fixture(scope="module")
def code_ids(tmp_path_factory) -> set[str]:
    return extracted_ids(tmp_path_factory.mktemp("pot"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_in_the_code_is_translated(language: str, code_ids: set[str]) -> None:
    cat = catalogue(language)
    translated = {
        m.id
        for m in cat
        if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy
    }
    missing = sorted(code_ids - translated)
    assert not missing, f"{language}: {len(missing)} untranslated, e.g. {missing[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match_and_text_is_nfc(language: str) -> None:
    for message in catalogue(language):
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, message.id
            assert unicodedata.normalize("NFC", text) == text, message.id


def test_vietnamese_is_really_vietnamese() -> None:
    _ = translator("vi")
    assert _("✅ I agree") != "✅ I agree"
    assert "Đồng ý" in _("✅ I agree") or "đồng ý" in _("✅ I agree")
