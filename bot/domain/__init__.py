"""The province's rules: reports, the four-step workflow, deadlines, officials, alerts.

Everything here is platform-neutral. It reads and writes the database through
`storage`, writes what others must be told into the outbox (`bot.delivery.outbox`)
as rows rendered later per recipient, and never imports a messaging platform,
the conversation layer, the command line or an emulator (import-linter checks it).

`workflow` is the report state machine; `casework` fires its transitions with
their consequences (`cards`, `notices`, `reminders`); `deadlines`, `calendar`
and `calendars` count working time; `routing` and `province` hold the
province's agencies, topics and areas; `officials` and `roles` its staff;
`alerts` and `subscriptions` the official warnings; `photos` checks evidence.
"""

__all__ = [
    "alerts",
    "calendar",
    "calendars",
    "cards",
    "casework",
    "citizens",
    "deadlines",
    "desk",
    "drafts",
    "labels",
    "notices",
    "office_hours",
    "officials",
    "photos",
    "province",
    "reminder_kinds",
    "reminder_texts",
    "reminders",
    "reports",
    "roles",
    "routing",
    "subscriptions",
    "urgency",
    "workflow",
    "worklist",
]
