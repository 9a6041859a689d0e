"""Telegram's keyboards for the conversation's buttons and keys (bot/conversation/replies.py)."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.conversation.replies import Ask, Keys, RemoveKeys

# Telegram's limit on a button's callback data.
CALLBACK_DATA_MAX = 64


def inline(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (text, callback data); data stays within Telegram's 64 bytes."""
    for row in rows:
        for _text, data in row:
            if len(data.encode()) > CALLBACK_DATA_MAX:
                raise ValueError(f"callback data too long: {data!r}")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def reply_keys(keys: Keys | RemoveKeys | None) -> ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """A keyboard under the typing field; keys that ask for the phone or the place use Telegram's requests."""
    if keys is None:
        return None
    if isinstance(keys, RemoveKeys):
        return ReplyKeyboardRemove()
    rows = [
        [
            KeyboardButton(
                key.label,
                request_contact=True if key.asks is Ask.CONTACT else None,
                request_location=True if key.asks is Ask.LOCATION else None,
            )
            for key in row
        ]
        for row in keys.rows
    ]
    if keys.persistent:
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
