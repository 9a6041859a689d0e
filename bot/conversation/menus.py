"""The keyboards citizens tap instead of typing: the main menu, sharing a phone number, sharing a place."""

from __future__ import annotations

from bot.conversation.replies import Ask, Key, Keys
from bot.i18n import LANGUAGES, N_, Translator, translator

MENU_REPORT = N_("📝 Send a report")
MENU_MY_REPORTS = N_("📋 My reports")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
SHARE_PHONE = N_("📱 Share my phone number")
SHARE_LOCATION = N_("📍 Send my current location")
TYPE_ADDRESS = N_("✍️ Type the address instead")


def labels(message: str) -> frozenset[str]:
    """A key's label in every language, to recognise it whatever the sender reads."""
    return frozenset(translator(lang)(message) for lang in LANGUAGES)


MENU_LABELS = frozenset().union(*(labels(label) for label in (MENU_REPORT, MENU_MY_REPORTS, MENU_LANGUAGE, MENU_HELP)))


def main_menu(_: Translator) -> Keys:
    return Keys(
        ((Key(_(MENU_REPORT)), Key(_(MENU_MY_REPORTS))), (Key(_(MENU_LANGUAGE)), Key(_(MENU_HELP)))),
        persistent=True,
    )


def share_phone(_: Translator) -> Keys:
    return Keys(((Key(_(SHARE_PHONE), Ask.CONTACT),),))


def share_place(_: Translator) -> Keys:
    return Keys(((Key(_(SHARE_LOCATION), Ask.LOCATION),), (Key(_(TYPE_ADDRESS)),)))
