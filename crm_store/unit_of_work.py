"""Own one database transaction per use case and expose the repositories inside it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from crm_store.repositories import (
    ComplaintRepository,
    ConsentRepository,
    FollowUpRepository,
    GuestRepository,
    HandoffRepository,
    IdentityRepository,
    InboxRepository,
    OutboxRepository,
    PreferenceRepository,
    ProcessedUpdateRepository,
    StayRepository,
    SurveyRepository,
)


class SqlUnitOfWork:
    """Open a session on enter, commit only when told, and roll back anything uncommitted on exit.

    One instance may be entered many times in sequence (each ``with`` is a fresh transaction),
    but not concurrently or nested.
    """

    guests: GuestRepository
    identities: IdentityRepository
    stays: StayRepository
    preferences: PreferenceRepository
    complaints: ComplaintRepository
    surveys: SurveyRepository
    followups: FollowUpRepository
    handoffs: HandoffRepository
    consents: ConsentRepository
    updates: ProcessedUpdateRepository
    outbox: OutboxRepository
    inbox: InboxRepository

    def __init__(self, session_factory: sessionmaker) -> None:
        """Remember the session factory; nothing is opened until ``with``."""
        self._session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """Return the open session (only inside ``with``)."""
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._session

    def __enter__(self) -> SqlUnitOfWork:
        """Start a transaction and build the repositories on it."""
        if self._session is not None:
            raise RuntimeError("unit of work is already active (nested use is not supported)")
        session = self._session_factory()
        self._session = session
        self.guests = GuestRepository(session)
        self.identities = IdentityRepository(session)
        self.stays = StayRepository(session)
        self.preferences = PreferenceRepository(session)
        self.complaints = ComplaintRepository(session)
        self.surveys = SurveyRepository(session)
        self.followups = FollowUpRepository(session)
        self.handoffs = HandoffRepository(session)
        self.consents = ConsentRepository(session)
        self.updates = ProcessedUpdateRepository(session)
        self.outbox = OutboxRepository(session)
        self.inbox = InboxRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and close the session."""
        session = self._session
        self._session = None
        if session is None:
            return
        try:
            session.rollback()
        finally:
            session.close()

    def commit(self) -> None:
        """Commit the current transaction."""
        self.session.commit()

    def rollback(self) -> None:
        """Discard the current transaction's changes."""
        self.session.rollback()
