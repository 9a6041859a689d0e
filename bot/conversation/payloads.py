"""Reading the numbers in button payloads, which a forged press may fill with anything."""

from __future__ import annotations

# Database ids are 64-bit; anything longer was never one of ours.
ID_DIGITS_MAX = 18


def record_id(text: str) -> int | None:
    """The id in a payload part: ASCII digits only ('²' is a digit to Python, not to int())."""
    if not text or len(text) > ID_DIGITS_MAX or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
