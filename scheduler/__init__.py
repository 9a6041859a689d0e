"""Timed work: reminders, escalations, the daily digest and the monthly list (see scheduler/runner.py)."""

from scheduler.runner import (
    RunningScheduler,
    SchedulerConfig,
    TimedWork,
    start_scheduler,
)

__all__ = ["RunningScheduler", "SchedulerConfig", "TimedWork", "start_scheduler"]
