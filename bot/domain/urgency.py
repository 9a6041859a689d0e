"""Marking a report urgent: the receiving officer's or the head's decision (003 Art. 9.2).

Natural disasters, epidemics, accidents, robberies, loss of safety and
dangerous disorder are handled within 4 working hours of assignment instead of
7 working days. A citizen may ask for it, but only the receiving agency
decides. The decision is a timeline event (bot/domain/workflow.py `MARK_URGENT`, which
bumps the version so older cards go stale); when the report is already being
handled its deadline is brought forward (bot/domain/deadlines.py `urgent_handle_due`)
and its reminders follow the new deadline (bot/domain/reminders.py); a report not yet
assigned gets the urgent limit when it is.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import casework, workflow
from bot.domain.desk import Desk
from bot.domain.workflow import Action, Actor, Outcome, Refusal
from storage.models import Report

log = logging.getLogger(__name__)


async def mark_urgent(
    session: AsyncSession,
    desk: Desk,
    report: Report,
    actor: Actor,
    at: datetime,
    *,
    expected_version: int | None = None,
) -> Outcome:
    """Mark `report` urgent in the caller's transaction; a refusal changes nothing.

    Refused as WRONG_STATE when it already is urgent or has gone past
    handling, NOT_ALLOWED for anyone but the receiving officers and the head
    of the report's agency, STALE for a press on an older card.
    """
    if report.urgent:
        log.info("refused %s on report %s by %s: already urgent", Action.MARK_URGENT, report.id, actor.label)
        return Outcome(
            False,
            report,
            Refusal.WRONG_STATE,
            latest=await casework.latest_of(session, report.id, [Action.MARK_URGENT]),
        )
    return await casework.act(
        session, desk, report, Action.MARK_URGENT, actor, at, {}, expected_version=expected_version
    )


def may_mark_urgent(report: Report, actor: Actor) -> bool:
    """Whether to offer the button: the same rule `mark_urgent` applies, without the database."""
    transition = workflow.TRANSITIONS[Action.MARK_URGENT]
    return (
        not report.urgent
        and workflow.State(report.state) in transition.sources
        and bool(actor.parties & transition.who)
        and actor.agency_id == report.agency_id
    )
