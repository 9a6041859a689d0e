"""Who a citizen is: onboarding, consent, name, phone, language."""

from __future__ import annotations

import enum
import re
from datetime import datetime

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LANGUAGES, language_from_client, nfc
from storage.models import User

NAME_MIN, NAME_MAX = 2, 100
_NAME_FORBIDDEN = re.compile(r"[0-9@#$%^&*_=+<>{}\[\]|\\/~`]")


class OnboardingStep(enum.StrEnum):
    CONSENT = "consent"
    NAME = "name"
    PHONE = "phone"
    DONE = "done"


class NameProblem(enum.StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_A_NAME = "not_a_name"


class PhoneProblem(enum.StrEnum):
    INVALID = "invalid"
    NOT_VIETNAMESE = "not_vietnamese"
    NOT_OWN = "not_own"


async def find(session: AsyncSession, platform: str, external_id: str) -> User | None:
    """The account of this platform user, if they have one."""
    return await session.scalar(select(User).where(User.platform == platform, User.external_id == external_id))


async def get_or_create(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    client_language: str | None,
    default_language: str,
) -> User:
    user = await find(session, platform, external_id)
    language = language_from_client(client_language, default_language)
    if user is None:
        user = User(
            platform=platform,
            external_id=external_id,
            chat_id=chat_id,
            display_name=nfc(display_name)[:256],
            language=language,
            language_chosen=False,
            phone_verified=False,
        )
        session.add(user)
        await session.flush()
        return user
    if not user.language_chosen and user.language != language:
        user.language = language
    return user


def onboarding_step(user: User) -> OnboardingStep:
    if user.consent_at is None:
        return OnboardingStep.CONSENT
    if not user.full_name:
        return OnboardingStep.NAME
    if not user.phone:
        return OnboardingStep.PHONE
    return OnboardingStep.DONE


def give_consent(user: User, at: datetime) -> None:
    user.consent_at = at
    user.declined_at = None


def decline(user: User, at: datetime) -> None:
    # Declining later withdraws consent; what was given stays on past reports,
    # which the agencies must keep (003 Art. 11), but no new report is taken.
    user.consent_at = None
    user.declined_at = at


def set_full_name(user: User, text: str) -> NameProblem | None:
    name = " ".join(nfc(text).split())
    if len(name) < NAME_MIN:
        return NameProblem.TOO_SHORT
    if len(name) > NAME_MAX:
        return NameProblem.TOO_LONG
    if _NAME_FORBIDDEN.search(name) or not any(ch.isalpha() for ch in name):
        return NameProblem.NOT_A_NAME
    user.full_name = name
    return None


def parse_vietnamese_phone(raw: str) -> str | None:
    """E.164 form of a valid Vietnamese number typed in any usual way, else None."""
    try:
        number = phonenumbers.parse(raw.strip(), "VN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 84 or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def set_typed_phone(user: User, raw: str) -> PhoneProblem | None:
    phone = parse_vietnamese_phone(raw)
    if phone is None:
        return PhoneProblem.INVALID
    user.phone = phone
    user.phone_verified = False
    return None


def set_shared_phone(user: User, raw: str, *, contact_owner_id: str | None) -> PhoneProblem | None:
    """A phone shared with the messenger's contact button; verified if it is the sender's own."""
    if contact_owner_id is None or contact_owner_id != user.external_id:
        return PhoneProblem.NOT_OWN
    digits = raw.strip()
    if not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return PhoneProblem.INVALID
    if not phonenumbers.is_possible_number(number):
        return PhoneProblem.INVALID
    user.phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    user.phone_verified = True
    return None


def set_language(user: User, language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    user.language = language
    user.language_chosen = True
