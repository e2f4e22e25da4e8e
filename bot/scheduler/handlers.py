"""Say what each follow-up kind does when it comes due; one handler class per kind.

A handler has up to two steps. ``prepare`` (async, only when ``external`` is true) may talk to the outside world (Rasa) and may be repeated
if the process dies before the row is settled, so it must be safe to repeat. ``apply`` runs inside the
transaction that settles the row: its database effects (state changes, outbox rows, next follow-ups)
are committed exactly once, together with the row's new status.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.feedback_notify import feedback_body, stage_feedback_alert
from bot.notify import CaseAlert, StaffNotifier
from bot.scheduler.messenger import GuestMessenger
from bot.scheduler.store import Job
from crm_store.clock import Clock, SystemClock
from crm_store.recovery_policy import RecoveryPolicy
from crm_store.services import cases, pulse, survey_invites
from crm_store.services.feedback_alerts import KIND_FEEDBACK_ALERT
from crm_store.services.stays import SurveyTiming
from crm_store.unit_of_work import SqlUnitOfWork

INTENT_RECOVERY_CHECK = "EXTERNAL_recovery_check"
ENTITY_RECOVERY_REFERENCE = "recovery_reference"
INTENT_SURVEY_INVITE = "EXTERNAL_survey_invite"
INTENT_SURVEY_REMINDER = "EXTERNAL_survey_reminder"
INTENT_PULSE_CHECK = "EXTERNAL_pulse_check"


class RetryableError(RuntimeError):
    """Raised by a handler when the work should be retried later (with backoff)."""


@dataclass(frozen=True)
class Outcome:
    """Say how to settle a row: ``sent``, ``cancelled`` (no longer applies) or ``deferred`` until a time."""

    status: str
    until: datetime | None = None
    note: str | None = None

    @classmethod
    def sent(cls, note: str | None = None) -> Outcome:
        """Return a done outcome."""
        return cls("sent", None, note)

    @classmethod
    def cancelled(cls, note: str) -> Outcome:
        """Return a no-longer-applies outcome."""
        return cls("cancelled", None, note)

    @classmethod
    def deferred(cls, until: datetime) -> Outcome:
        """Return an outcome that puts the row back to pending at ``until``."""
        return cls("deferred", until, None)


class Handler(Protocol):
    """Perform one follow-up kind (``external``: it calls out, so it is claimed before ``prepare``)."""

    kind: str
    guest_facing: bool
    external: bool

    def misfire_grace(self) -> timedelta | None:
        """Return how late the row may still run; None means it always runs, however late."""
        ...

    async def prepare(self, job: Job) -> Any:
        """Do the repeatable outside work (may raise RetryableError)."""
        ...

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Write the row's effects inside the settling transaction."""
        ...

    def misfired(self, tx: SqlUnitOfWork, job: Job, now: datetime) -> Outcome:
        """Handle a row found later than its misfire grace (inside the settling transaction)."""
        ...


class BaseHandler:
    """Provide defaults: no outside work, and no misfire limit (late rows run now)."""

    kind = ""
    guest_facing = False
    external = False

    def __init__(self, policy: RecoveryPolicy) -> None:
        """Remember the policy."""
        self.policy = policy

    def misfire_grace(self) -> timedelta | None:
        """Return the policy's misfire grace for this kind, if any."""
        return self.policy.dispatch.misfire.get(self.kind)

    async def prepare(self, job: Job) -> Any:
        """Do nothing outside the database."""
        return None

    def misfired(self, tx: SqlUnitOfWork, job: Job, now: datetime) -> Outcome:
        """Drop the row."""
        return Outcome.cancelled("misfired")

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Subclasses implement this."""
        raise NotImplementedError


def _clock_outcome(result: cases.ClockOutcome) -> Outcome:
    if result.result == "deferred" and result.until is not None:
        return Outcome.deferred(result.until)
    if result.result == "stale":
        return Outcome.cancelled("stale")
    return Outcome.sent(result.result)


class SlaAckHandler(BaseHandler):
    """No acknowledgement by the deadline: escalate one rung (and schedule the next rung's deadline)."""

    kind = cases.KIND_SLA_ACK

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Escalate if the complaint is still unacknowledged at this level."""
        return _clock_outcome(
            cases.on_ack_deadline(
                tx, now, self.policy, job.subject,
                cycle=int(job.field("cycle", 0)), level=int(job.field("level", 0)),
            )
        )


class SlaResolveHandler(BaseHandler):
    """Acknowledged but not resolved by the deadline: escalate one rung."""

    kind = cases.KIND_SLA_RESOLVE

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Escalate if the complaint is still unresolved at this level."""
        return _clock_outcome(
            cases.on_resolve_deadline(
                tx, now, self.policy, job.subject,
                cycle=int(job.field("cycle", 0)), level=int(job.field("level", 0)),
            )
        )


class TriggerIntent(Protocol):
    """Trigger an intent in a Rasa conversation and return the bot's messages (RasaClient satisfies it)."""

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Trigger ``intent`` for ``sender_id``."""
        ...


class RecoveryAskHandler(BaseHandler):
    """Ask the guest, through Rasa, whether the fix holds; deliver Rasa's messages via the messenger."""

    kind = cases.KIND_RECOVERY_ASK
    guest_facing = True
    external = True

    def __init__(
        self, policy: RecoveryPolicy, rasa: TriggerIntent, messenger: GuestMessenger, uow_factory: Any
    ) -> None:
        """Remember Rasa, the messenger and how to open a unit of work."""
        super().__init__(policy)
        self.rasa = rasa
        self.messenger = messenger
        self.uow_factory = uow_factory

    def _target(self, job: Job) -> str | None:
        with self.uow_factory() as uow:
            return cases.recovery_target(uow, job.subject, int(job.field("cycle", 0)))

    async def prepare(self, job: Job) -> Any:
        """Trigger EXTERNAL_recovery_check in the guest's conversation (None if the case moved on)."""
        target = await asyncio.to_thread(self._target, job)
        if target is None:
            return None
        sender = job.field("sender") or target
        try:
            messages = await self.rasa.trigger_intent(
                sender, INTENT_RECOVERY_CHECK, {ENTITY_RECOVERY_REFERENCE: job.subject}
            )
        except Exception as exc:  # noqa: BLE001 - any failure of the dialogue service is retried
            raise RetryableError(f"trigger_intent failed: {type(exc).__name__}") from exc
        if not messages:
            raise RetryableError("Rasa answered the recovery check with no message")
        return sender, messages

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Record that the guest was asked, schedule the auto-close and hand the messages over."""
        if prepared is None:
            return Outcome.cancelled("stale")
        sender, messages = prepared
        if not cases.on_guest_asked(tx, now, self.policy, job.subject, cycle=int(job.field("cycle", 0))):
            return Outcome.cancelled("stale")
        self.messenger.deliver(tx, sender, messages, source=job.idempotency_key)
        return Outcome.sent()

    def misfired(self, tx: SqlUnitOfWork, job: Job, now: datetime) -> Outcome:
        """Too late to ask: close the case as not confirmed."""
        cases.on_auto_close(
            tx, now, self.policy, job.subject, cycle=int(job.field("cycle", 0)), reason="follow_up_missed"
        )
        return Outcome.cancelled("misfired")


class RecoveryAutoCloseHandler(BaseHandler):
    """No answer from the guest: close the case as not confirmed."""

    kind = cases.KIND_RECOVERY_AUTOCLOSE

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Close the case if it still awaits the guest's answer."""
        closed = cases.on_auto_close(
            tx, now, self.policy, job.subject, cycle=int(job.field("cycle", 0)),
            reason=str(job.field("reason") or "no_answer"),
        )
        return Outcome.sent() if closed else Outcome.cancelled("stale")


class StaffAlertHandler(BaseHandler):
    """Hand a complaint event to the staff notifier."""

    kind = cases.KIND_STAFF_ALERT

    def __init__(self, policy: RecoveryPolicy, notifier: StaffNotifier) -> None:
        """Remember the notifier."""
        super().__init__(policy)
        self.notifier = notifier

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Build the card from the complaint's current state and call the notifier method of the event."""
        event = str(job.field("event", ""))
        if event not in cases.ALERT_EVENTS:
            return Outcome.cancelled(f"unknown alert event {event!r}")
        complaint = tx.complaints.get_by_reference(job.subject)
        if complaint is None:
            return Outcome.cancelled("complaint gone")
        info = cases.case_info(tx, self.policy, complaint)
        alert = CaseAlert(
            event=event,
            reference=info.reference,
            rung=str(job.field("rung") or info.rung),
            level=int(job.field("level", info.escalation_level)),
            category=info.category,
            severity=info.severity,
            room=info.room,
            status=info.status,
            ack_due_at=info.ack_due_at,
            resolve_due_at=info.resolve_due_at,
            suggested_gestures=info.suggested_gestures,
            reason=job.field("reason"),
            from_rung=job.field("from_rung"),
        )
        getattr(self.notifier, event)(tx, alert)
        return Outcome.sent()


class _GuestTouchHandler(BaseHandler):
    """Share the plumbing of survey and pulse messages: decide (reads), trigger Rasa, settle with effects.

    ``prepare`` asks ``plan`` (in a worker thread, with the injected clock) whether to message the guest;
    only then it triggers the intent. ``apply`` records the outcome and stages Rasa's messages in the
    settling transaction. Lateness is judged by the service from the payload's ``planned_at`` (quiet hours
    move ``due_at``), so these kinds have no misfire grace of their own.
    """

    guest_facing = True
    external = True
    intent = ""

    def __init__(
        self, policy: RecoveryPolicy, rasa: TriggerIntent, messenger: GuestMessenger, uow_factory: Any,
        clock: Clock,
    ) -> None:
        """Remember Rasa, the messenger, how to open a unit of work and the clock."""
        super().__init__(policy)
        self.rasa = rasa
        self.messenger = messenger
        self.uow_factory = uow_factory
        self.clock = clock

    def misfire_grace(self) -> timedelta | None:
        """Return None: the service decides from ``planned_at`` (see the class docstring)."""
        return None

    def plan(self, uow: SqlUnitOfWork, job: Job, now: datetime) -> Any:
        """Return the service's plan (with ``send``, ``sender``, ``reason``)."""
        raise NotImplementedError

    def _plan(self, job: Job) -> Any:
        with self.uow_factory() as uow:
            return self.plan(uow, job, self.clock.now())

    async def prepare(self, job: Job) -> Any:
        """Decide; when sending, trigger the intent in the guest's conversation and keep its messages."""
        plan = await asyncio.to_thread(self._plan, job)
        if not plan.send:
            return plan, None
        try:
            messages = await self.rasa.trigger_intent(plan.sender, self.intent)
        except Exception as exc:  # noqa: BLE001 - any failure of the dialogue service is retried
            raise RetryableError(f"trigger_intent failed: {type(exc).__name__}") from exc
        if not messages:
            raise RetryableError(f"Rasa answered {self.intent} with no message")
        return plan, messages


def _planned_at(job: Job) -> datetime | None:
    return survey_invites.parse_planned_at(job.field("planned_at"))


class SurveyInviteHandler(_GuestTouchHandler):
    """Invite a checked-out guest to the survey (fatigue rules apply) and schedule one reminder."""

    kind = survey_invites.KIND_SURVEY_INVITE
    intent = INTENT_SURVEY_INVITE

    def plan(self, uow: SqlUnitOfWork, job: Job, now: datetime) -> Any:
        """Apply the fatigue rules and the lateness limit."""
        return survey_invites.plan_invitation(
            uow, now, job.subject, planned_at=_planned_at(job), rules=self.policy.surveys
        )

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Record the invitation (and its reminder) and stage Rasa's messages; or record why not."""
        plan, messages = prepared
        if not plan.send:
            survey_invites.record_invitation_skipped(tx, now, job.subject, plan.reason)
            return Outcome.cancelled(plan.reason)
        if not survey_invites.record_invitation_sent(tx, now, job.subject, plan.sender, rules=self.policy.surveys):
            return Outcome.cancelled(survey_invites.SKIP_ALREADY_INVITED)
        self.messenger.deliver(tx, plan.sender, messages, source=job.idempotency_key)
        return Outcome.sent()


class SurveyReminderHandler(_GuestTouchHandler):
    """Remind a guest who has not started the survey, once."""

    kind = survey_invites.KIND_SURVEY_REMINDER
    intent = INTENT_SURVEY_REMINDER

    def plan(self, uow: SqlUnitOfWork, job: Job, now: datetime) -> Any:
        """Skip when answered, opted out or too late."""
        return survey_invites.plan_reminder(
            uow, now, job.subject, planned_at=_planned_at(job), rules=self.policy.surveys,
            sender=job.field("sender"),
        )

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Mark the invitation reminded and stage the messages; or record why not."""
        plan, messages = prepared
        if not plan.send:
            survey_invites.record_reminder_skipped(tx, now, job.subject, plan.reason)
            return Outcome.cancelled(plan.reason)
        if not survey_invites.record_reminder_sent(tx, now, job.subject, plan.sender):
            survey_invites.record_reminder_skipped(tx, now, job.subject, survey_invites.SKIP_ANSWERED)
            return Outcome.cancelled(survey_invites.SKIP_ANSWERED)
        self.messenger.deliver(tx, plan.sender, messages, source=job.idempotency_key)
        return Outcome.sent()


class PulseCheckHandler(_GuestTouchHandler):
    """Ask an in-house guest "How is everything so far?" on day 2 of a long enough stay."""

    kind = pulse.KIND_PULSE_CHECK
    intent = INTENT_PULSE_CHECK

    def plan(self, uow: SqlUnitOfWork, job: Job, now: datetime) -> Any:
        """Re-check the stay and the guest."""
        timing = SurveyTiming.from_rules(self.policy.surveys, self.policy.tz)
        return pulse.plan_pulse(uow, now, job.subject, timing=timing, planned_at=_planned_at(job))

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Note the question and stage the messages; defer when the stay moved; or record why not."""
        plan, messages = prepared
        if plan.defer_until is not None:
            return Outcome.deferred(plan.defer_until)
        if not plan.send:
            pulse.record_pulse_skipped(tx, now, job.subject, plan.reason)
            return Outcome.cancelled(plan.reason)
        pulse.record_pulse_asked(tx, now, job.subject, plan.sender)
        self.messenger.deliver(tx, plan.sender, messages, source=job.idempotency_key)
        return Outcome.sent()


class FeedbackAlertHandler(BaseHandler):
    """Hand a bad survey or pulse score (answers and stay) to staff."""

    kind = KIND_FEEDBACK_ALERT

    def __init__(self, policy: RecoveryPolicy, notifier: StaffNotifier) -> None:
        """Remember the notifier (used when it implements ``feedback_alert``)."""
        super().__init__(policy)
        self.notifier = notifier

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Stage the alert through the notifier's ``feedback_alert`` if it has one, else in the outbox."""
        body = feedback_body(job.payload)
        custom = getattr(self.notifier, "feedback_alert", None)
        if callable(custom):
            custom(tx, body)
        else:
            stage_feedback_alert(tx, now, body)
        return Outcome.sent()


def default_handlers(
    policy: RecoveryPolicy,
    *,
    rasa: TriggerIntent,
    messenger: GuestMessenger,
    notifier: StaffNotifier,
    uow_factory: Any,
    clock: Clock | None = None,
) -> dict[str, Handler]:
    """Return the handler of every follow-up kind the scheduler dispatches (``clock``: the dispatcher's)."""
    clock = clock or SystemClock()
    handlers: list[Any] = [
        SlaAckHandler(policy),
        SlaResolveHandler(policy),
        RecoveryAskHandler(policy, rasa, messenger, uow_factory),
        RecoveryAutoCloseHandler(policy),
        StaffAlertHandler(policy, notifier),
        SurveyInviteHandler(policy, rasa, messenger, uow_factory, clock),
        SurveyReminderHandler(policy, rasa, messenger, uow_factory, clock),
        PulseCheckHandler(policy, rasa, messenger, uow_factory, clock),
        FeedbackAlertHandler(policy, notifier),
    ]
    return {h.kind: h for h in handlers}
