"""Every model, imported so that Base.metadata knows all tables."""

from storage.models.alerts import Alert, AlertArea, AlertFollowArea, AlertFollower
from storage.models.base import Base
from storage.models.drafts import Draft
from storage.models.officials import (
    AccessAudit,
    BindCode,
    GroupBinding,
    Invitation,
    Official,
    OfficialRole,
)
from storage.models.outbox import OutboxMessage, OutboxStatus, Priority
from storage.models.prompts import PendingInput
from storage.models.province import Agency, Province, Topic
from storage.models.reminders import (
    CalendarDay,
    LateStage,
    Reminder,
    ScheduledRun,
    SchedulerLease,
)
from storage.models.reports import (
    CoordinationRequest,
    Counter,
    Report,
    ReportEvent,
    ReportPhoto,
)
from storage.models.users import User

__all__ = [
    "AccessAudit",
    "Agency",
    "Alert",
    "AlertArea",
    "AlertFollowArea",
    "AlertFollower",
    "Base",
    "BindCode",
    "CalendarDay",
    "CoordinationRequest",
    "Counter",
    "Draft",
    "GroupBinding",
    "Invitation",
    "LateStage",
    "Official",
    "OfficialRole",
    "OutboxMessage",
    "OutboxStatus",
    "PendingInput",
    "Priority",
    "Province",
    "Reminder",
    "Report",
    "ReportEvent",
    "ReportPhoto",
    "ScheduledRun",
    "SchedulerLease",
    "Topic",
    "User",
]
