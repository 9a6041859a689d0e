"""Every model, imported so that Base.metadata knows all tables."""
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
from storage.models.province import Agency, Province, Topic
from storage.models.reports import Counter, Report, ReportEvent, ReportPhoto
from storage.models.users import User

__all__ = ["AccessAudit", "Agency", "Base", "BindCode", "Counter", "Draft", "GroupBinding", "Invitation", "Official", "OfficialRole", "OutboxMessage", "OutboxStatus", "Priority", "Province", "Report", "ReportEvent", "ReportPhoto", "Topic", "User"]
