"""Database models: users, documents, retentions, revisions, autodocs, events.

A document's history is a list of revisions (the body as it was saved). Each
revision owns its autodocs: generation jobs and, once done, the suggestions
GPT-2 wrote (one when the revision is saved, one more per "try another"; the
newest is the one shown). The autodoc row *is* the job record; queues only
deliver ids. Events are the document's timeline (revisions, review
transitions, comments, reassignments, renames, archiving).
"""

import enum
from datetime import UTC, datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .devices import DEVICE_MAX
from .extensions import db

NAME_MAX = 120
EMAIL_MAX = 254
ORGANIZATION_MAX = 120
DOCUMENT_NAME_MAX = 200
DOCUMENT_BODY_MAX = 100_000  # about 16,000 words; bodies are Text columns
ERROR_MAX = 2000
COMMENT_MAX = 2000
REASON_MAX = 500
TOKEN_NAME_MAX = 100
NOTIFICATION_MESSAGE_MAX = 500


# Every timestamp is stored as UTC, with its zone where the database keeps one.
Timestamp = DateTime(timezone=True)


def utcnow():
    """Aware UTC now; a callable so each row gets its own timestamp."""
    return datetime.now(UTC)


class Role(enum.StrEnum):
    sponsor = "sponsor"
    editor = "editor"
    admin = "admin"


class UserStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    # Stopped before it finished, by a person, or never queued: its sponsor had
    # too many waiting (`detail` says which). It can be asked for again.
    cancelled = "cancelled"


class ReviewState(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"


class EventKind(enum.StrEnum):
    revision = "revision"
    accept = "accept"
    dismiss = "dismiss"
    suggestion = "suggestion"  # "try another": one more suggestion asked for
    transition = "transition"
    comment = "comment"
    reassignment = "reassignment"
    rename = "rename"
    archive = "archive"
    restore = "restore"
    cancel = "cancel"  # a waiting (or, by an admin, running) suggestion stopped
    consent = "consent"  # training consent given or withdrawn (detail: {"on": bool})


def _enum(enum_class, name, length=16):
    return Enum(enum_class, name=name, native_enum=False, length=length)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    organization: Mapped[str] = mapped_column(String(ORGANIZATION_MAX), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), index=True)
    status: Mapped[UserStatus] = mapped_column(
        _enum(UserStatus, "user_status"), default=UserStatus.pending, index=True
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Why an admin rejected the account; the user sees it on their status page.
    status_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    # What a sponsor's new documents start with for `Document.train_consent`.
    train_consent_default: Mapped[bool] = mapped_column(
        default=False, server_default=text("false")
    )

    def set_password(self, password):
        method = current_app.config["PASSWORD_HASH_METHOD"]  # see config.py
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def is_approved(self):
        return self.status == UserStatus.approved

    def __repr__(self):
        return f"<User {self.id} {self.role.value} {self.status.value}>"


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("sponsor_id", "create_key", name="uq_documents_create_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(DOCUMENT_NAME_MAX))
    body: Mapped[str] = mapped_column(Text)
    # The number of the latest revision. Every change is one conditional
    # UPDATE on this row (`WHERE head_revision = <the revision the form
    # showed>`), so two saves based on one revision can never both land.
    head_revision: Mapped[int] = mapped_column(default=0)
    review_state: Mapped[ReviewState] = mapped_column(
        _enum(ReviewState, "review_state", length=24),
        default=ReviewState.draft,
        index=True,
    )
    archived_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, onupdate=utcnow
    )
    # The create form's one-time key: one document per key and sponsor.
    create_key: Mapped[str | None] = mapped_column(String(64))
    # The sponsor said yes to training the team's model on it; only approved
    # documents with consent are ever used (docdraft.training).
    train_consent: Mapped[bool] = mapped_column(
        default=False, server_default=text("false")
    )

    sponsor: Mapped[User] = relationship(foreign_keys=[sponsor_id])
    retention: Mapped["Retention"] = relationship(
        back_populates="document", uselist=False, cascade="all, delete-orphan"
    )
    revisions: Mapped[list["Revision"]] = relationship(
        back_populates="document",
        order_by="Revision.number.desc()",
        cascade="all, delete-orphan",
    )

    @property
    def editor(self):
        return self.retention.editor if self.retention else None

    events: Mapped[list["Event"]] = relationship(
        back_populates="document",
        order_by="Event.id.desc()",
        cascade="all, delete-orphan",
    )

    @property
    def latest_revision(self):
        return self.revisions[0] if self.revisions else None

    @property
    def is_archived(self):
        return self.archived_at is not None

    @property
    def is_locked(self):
        """Approved or archived: no edit, accept, dismiss or generation."""
        return self.is_archived or self.review_state == ReviewState.approved

    def revision_number(self, number):
        """Revision `number` of this document, or None."""
        return next((r for r in self.revisions if r.number == number), None)


class Retention(db.Model):
    """Which editor is assigned to a document; one at a time."""

    __tablename__ = "retentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="retention")
    editor: Mapped[User] = relationship(foreign_keys=[editor_id])


class Revision(db.Model):
    """One saved state of a document's body; numbered 1, 2, 3... per document."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(DOCUMENT_NAME_MAX))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Machine provenance of `body`: [[start, end, autodoc_id], ...] character
    # ranges still as a model wrote them (see docdraft.words).
    machine_spans: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="revisions")
    author: Mapped[User] = relationship()
    suggestions: Mapped[list["Autodoc"]] = relationship(
        back_populates="revision",
        cascade="all, delete-orphan",
        order_by="Autodoc.id",
    )

    @property
    def autodoc(self) -> "Autodoc":
        """The newest suggestion: the one the document page shows and acts on."""
        return self.suggestions[-1]


class Autodoc(db.Model):
    """The generation job for one revision, and the machine text it produced."""

    __tablename__ = "autodocs"
    # At most one suggestion per revision being written at a time: a double
    # click or two people asking at once cannot queue two (IntegrityError).
    __table_args__ = (
        Index(
            "uq_autodocs_one_pending_per_revision",
            "revision_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), index=True)
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), default=JobStatus.queued, index=True
    )
    text: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX))
    # What was asked for: beam or sample, short/medium/long, the sample's seed.
    mode: Mapped[str] = mapped_column(String(10), default="beam")
    length: Mapped[str] = mapped_column(String(10), default="medium")
    seed: Mapped[int | None]
    # What wrote it: the model, its exact weights, and the settings used.
    model_name: Mapped[str | None] = mapped_column(String(200))
    weights_sha256: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict | None] = mapped_column(JSON)
    # What a running job is waiting for ("compiling"), shown to the user.
    detail: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(default=0)
    # The worker running the job, and until when its lease holds
    # (see docdraft.jobs.runner).
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    # What the model read: prompt tokens used, and those cut from the start.
    prompt_tokens: Mapped[int | None]
    prompt_tokens_cut: Mapped[int | None]
    dismissed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    queued_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    revision: Mapped[Revision] = relationship(back_populates="suggestions")
    dismissed_by: Mapped[User | None] = relationship()

    @property
    def is_pending(self):
        return self.status in (JobStatus.queued, JobStatus.running)

    @property
    def is_dismissed(self):
        return self.dismissed_at is not None


class JobWorker(db.Model):
    """A process that runs jobs, as it last reported itself (docdraft.jobs.queue).

    Each worker upserts its row when it starts and at every heartbeat, so the
    admin can see who runs what; a row whose heartbeat is old is a worker
    that stopped (its jobs go back to the queue when their leases expire).
    """

    __tablename__ = "job_workers"

    # The worker's lease owner id (runner.new_worker_id).
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    backend: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int]  # its batch size
    running: Mapped[int] = mapped_column(default=0)  # rows in flight
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, index=True
    )


class Event(db.Model):
    """One entry of a document's timeline: who did what, and when."""

    __tablename__ = "document_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind"))
    revision_number: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="events")
    actor: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """A security-relevant event, and how often it happened (docdraft.audit).

    The same event again within AUDIT_REPEAT_SECONDS adds to `count` and
    moves `last_at` instead of adding a row; nothing else changes a row, and
    no route changes or deletes one.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str | None] = mapped_column(String(500))
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    count: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    last_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    # sha256 of what makes two events the same, while the row still counts
    # them (None once its window has passed): unique, so that two processes
    # recording one event at once count on one row.
    repeat_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    target: Mapped[User | None] = relationship(foreign_keys=[target_id])


class LoginSession(db.Model):
    """One login of a user, on one device (docdraft.sessions).

    The cookie holds a random secret; only its sha256 is stored here. The
    session is active while not ended and neither idle nor too old.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "Firefox on Linux": read from the User-Agent, for people to recognise.
    device: Mapped[str] = mapped_column(String(DEVICE_MAX))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ModelStatus(enum.StrEnum):
    training = "training"
    ready = "ready"
    failed = "failed"
    cancelled = "cancelled"


class ModelOrigin(enum.StrEnum):
    seed = "seed"  # the project's offline seed model
    hub = "hub"  # a model hub id
    local = "local"  # a directory the deployment named (TEXTGEN_MODEL)
    trained = "trained"  # fine-tuned here, from `base`


class LanguageModel(db.Model):
    """A model in the registry: a deployment's base model, or one trained here.

    A trained model serves only its audience (the sponsors whose documents
    trained it), and only those it is active for (ModelActivation). Its
    weights live in the model store under their sha256 (`reference`).
    """

    __tablename__ = "language_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    origin: Mapped[ModelOrigin] = mapped_column(_enum(ModelOrigin, "model_origin"))
    # Where the weights are: a hub id, a directory, or a path in the store.
    reference: Mapped[str] = mapped_column(String(1000))
    # sha256 of the weights; None until a training job has written them.
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    base_id: Mapped[int | None] = mapped_column(
        ForeignKey("language_models.id"), index=True
    )
    status: Mapped[ModelStatus] = mapped_column(
        _enum(ModelStatus, "model_status"), default=ModelStatus.ready, index=True
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Evaluation (issue's `metrics` keys) and training progress: step,
    # planned_steps, and the loss points [[step, loss, val_loss], ...].
    metrics: Mapped[dict | None] = mapped_column(JSON)
    progress: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX))
    # The training job: its limit, its worker's lease, a cancel asked for.
    max_minutes: Mapped[int | None]
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    cancel_requested: Mapped[bool] = mapped_column(
        default=False, server_default=text("false")
    )

    base: Mapped["LanguageModel | None"] = relationship(remote_side=[id])
    audience: Mapped[list["User"]] = relationship(
        secondary="model_audience", order_by="User.id"
    )


class ModelAudience(db.Model):
    """A sponsor whose documents trained a model."""

    __tablename__ = "model_audience"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("language_models.id"), primary_key=True
    )
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class ModelActivation(db.Model):
    """The trained model that writes a sponsor's suggestions; one per sponsor
    (no row: the deployment's base model)."""

    __tablename__ = "model_activations"

    sponsor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("language_models.id"), index=True)
    activated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    activated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    model: Mapped[LanguageModel] = relationship()


class TokenScope(enum.StrEnum):
    read = "read"  # GET only
    write = "write"  # everything the token's user may do


class ApiToken(db.Model):
    """A personal access token for the JSON API (docdraft.api.tokens).

    The token itself (`ddt_` + 43 URL-safe characters) is shown once; only
    its sha256 is stored. It works while not revoked, not expired, and its
    user is approved.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX))
    scope: Mapped[TokenScope] = mapped_column(_enum(TokenScope, "token_scope"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters ("ddt_AbCd"), for people to recognise a token.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_used_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Notification(db.Model):
    """One line of a user's in-app notifications (docdraft.notifications)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # What happened: account_approved, assigned, submitted, comment, ...
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id"), index=True
    )
    # The words shown, written when it happened (names may change later).
    message: Mapped[str] = mapped_column(String(NOTIFICATION_MESSAGE_MAX))
    # Where its link goes, a path inside the app.
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(Timestamp)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class NotificationPreference(db.Model):
    """Whether `user` gets `kind` by email (no row: that kind's default)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(default=True)
    in_app: Mapped[bool] = mapped_column(default=True)


class MailStatus(enum.StrEnum):
    queued = "queued"  # waiting, or waiting for its retry (`next_attempt_at`)
    sending = "sending"  # a worker holds its lease
    sent = "sent"
    failed = "failed"  # gave up after MAIL_MAX_ATTEMPTS


class OutboxMail(db.Model):
    """A mail to send, committed with the change that caused it.

    A worker claims it under a lease (as generation jobs are claimed), sends
    it through SMTP and marks it sent; an SMTP server that is down only
    delays it (`next_attempt_at`). Mail with a secret in it (a password
    reset link) has its bodies erased once sent.
    """

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(EMAIL_MAX))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Extra headers, e.g. List-Unsubscribe and List-Unsubscribe-Post.
    headers: Mapped[dict | None] = mapped_column(JSON)
    secret: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # The decision about the recipient's own account: the one mail a pending
    # or rejected user receives.
    account_decision: Mapped[bool] = mapped_column(
        default=False, server_default=text("false")
    )
    status: Mapped[MailStatus] = mapped_column(
        _enum(MailStatus, "mail_status"), default=MailStatus.queued, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, index=True
    )
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX))
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PasswordReset(db.Model):
    """A password-reset link: single use, expires, stored as its sha256."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()
