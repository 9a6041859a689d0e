"""Every model, imported so that Base.metadata knows all tables."""
from storage.models.base import Base
from storage.models.province import Agency, Topic, Province
from storage.models.users import User
from storage.models.drafts import Draft
from storage.models.reports import Counter, Report, ReportEvent, ReportPhoto

__all__ = ["Base", "Agency", "Counter", "Draft", "Province", "Report", "ReportEvent", "ReportPhoto", "Topic", "User"]
