"""Keyboards shown to citizens. Button texts come from the catalogues."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.i18n import LANGUAGES, N_, Translator, translator

MENU_REPORT = N_("📝 Send a report")
MENU_MY_REPORTS = N_("📋 My reports")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
SHARE_PHONE = N_("📱 Share my phone number")
SHARE_LOCATION = N_("📍 Send my current location")
TYPE_ADDRESS = N_("✍️ Type the address instead")


def labels(message: str) -> frozenset[str]:
    """A button's text in every language, to recognise it whatever the sender reads."""
    return frozenset(translator(lang)(message) for lang in LANGUAGES)


def main_menu(_: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[_(MENU_REPORT), _(MENU_MY_REPORTS)], [_(MENU_LANGUAGE), _(MENU_HELP)]],
        resize_keyboard=True,
        is_persistent=True,
    )


def share_phone(_: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_(SHARE_PHONE), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def share_place(_: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_(SHARE_LOCATION), request_location=True)], [_(TYPE_ADDRESS)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def inline(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (text, callback data); data stays within Telegram's 64 bytes."""
    for row in rows:
        for _text, data in row:
            if len(data.encode()) > 64:
                raise ValueError(f"callback data too long: {data!r}")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )
