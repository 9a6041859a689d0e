"""Names of states and timeline events as people read them (catalogue msgids)."""

from __future__ import annotations

from bot.domain.workflow import Action, State
from bot.i18n import N_

# What the citizen reads about their report.
STATE_LABELS = {
    State.SUBMITTED: N_("⏳ waiting to be received"),
    State.NEEDS_INFO: N_("❔ the agency asks you for more information"),
    State.RECEIVED: N_("📥 received, waiting to be assigned"),
    State.ASSIGNED: N_("🛠 being handled"),
    State.PENDING_APPROVAL: N_("🛠 being handled"),
    State.RESOLVED: N_("✅ result sent"),
    State.CLARIFYING: N_("❔ clarification asked"),
    State.CLOSED: N_("🏁 closed"),
    State.REJECTED: N_("⛔ not accepted"),
    State.WITHDRAWN: N_("↩️ withdrawn"),
}
# The public processing record (003 Art. 11.2): internal steps (result drafts,
# returns for rework, reassignments) are not in it.
EVENT_LABELS = {
    Action.SUBMIT: N_("Sent by the citizen"),
    Action.WITHDRAW: N_("Withdrawn by the citizen"),
    Action.RECEIVE: N_("Received by the agency"),
    Action.REJECT: N_("Not accepted by the agency"),
    Action.REQUEST_INFO: N_("The agency asked for more information"),
    Action.TRANSFER: N_("Transferred to the competent agency"),
    Action.ASSIGN: N_("Assigned for handling"),
    Action.APPROVE: N_("Result approved and sent"),
    Action.ASK_CLARIFICATION: N_("Clarification asked by the citizen"),
    Action.ANSWER_CLARIFICATION: N_("Clarification answered"),
    Action.RATE: N_("Rated by the citizen"),
    Action.REOPEN: N_("Re-opened by the citizen"),
    Action.CLOSE: N_("Closed"),
}

# What the agency's officials read on a card: what the report waits for.
CARD_STATE_LABELS = {
    State.SUBMITTED: N_("🆕 to be screened"),
    State.NEEDS_INFO: N_("❔ waiting for the citizen's answer"),
    State.RECEIVED: N_("📥 received, to be assigned"),
    State.ASSIGNED: N_("🛠 being handled"),
    State.PENDING_APPROVAL: N_("🖊 result waiting for approval"),
    State.RESOLVED: N_("✅ result sent to the citizen"),
    State.CLARIFYING: N_("❔ the citizen asks for clarification"),
    State.CLOSED: N_("🏁 closed"),
    State.REJECTED: N_("⛔ rejected"),
    State.WITHDRAWN: N_("↩️ withdrawn by the citizen"),
}

# The whole timeline, internal steps included, as officials read it.
OFFICIAL_EVENT_LABELS = {
    **EVENT_LABELS,
    Action.PROVIDE_INFO: N_("The citizen answered"),
    Action.REASSIGN: N_("Reassigned"),
    Action.SUBMIT_RESULT: N_("Result submitted for approval"),
    Action.RETURN: N_("Returned for rework"),
    Action.HANDOVER: N_("Handed over to a colleague"),
    Action.UNASSIGN: N_("Back to the agency's queue"),
    Action.NOTE: N_("Note"),
    Action.COORDINATE: N_("Coordination requested"),
    Action.COORDINATION_ANSWER: N_("Coordination answered"),
    Action.REVEAL_CONTACT: N_("Citizen's contact revealed"),
    Action.MARK_URGENT: N_("Marked urgent"),
}
