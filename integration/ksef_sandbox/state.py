"""The sandbox's own tables and store. A restart loses nothing: state lives in its database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _UTC(sa.types.TypeDecorator[dt.datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: _UTC(), dict[str, Any]: sa.JSON(), list[Any]: sa.JSON()}


class KeyPair(Base):
    __tablename__ = "sbx_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    usage: Mapped[str] = mapped_column(sa.String(40))
    private_pem: Mapped[bytes] = mapped_column(sa.LargeBinary)
    cert_der: Mapped[bytes] = mapped_column(sa.LargeBinary)
    public_key_id: Mapped[str] = mapped_column(sa.String(44), unique=True)
    valid_from: Mapped[dt.datetime]
    valid_to: Mapped[dt.datetime]


class Setting(Base):
    __tablename__ = "sbx_setting"
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class Challenge(Base):
    __tablename__ = "sbx_challenge"
    challenge: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    timestamp_ms: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class Subject(Base):
    """A test subject (company) or a person with a NIP-PESEL link."""

    __tablename__ = "sbx_subject"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # entity | person
    nip: Mapped[str] = mapped_column(sa.String(10), index=True)
    pesel: Mapped[str | None] = mapped_column(sa.String(11), index=True)
    description: Mapped[str] = mapped_column(sa.String(256), default="")
    subject_type: Mapped[str | None] = mapped_column(sa.String(40))
    is_deceased: Mapped[bool] = mapped_column(default=False)
    is_bailiff: Mapped[bool] = mapped_column(default=False)
    attachments_allowed: Mapped[bool] = mapped_column(default=False)
    blocked: Mapped[bool] = mapped_column(default=False)


class AuthOperation(Base):
    __tablename__ = "sbx_auth"
    reference_number: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    context_type: Mapped[str] = mapped_column(sa.String(20))
    context_value: Mapped[str] = mapped_column(sa.String(64))
    subject_type: Mapped[str | None] = mapped_column(sa.String(20))  # Nip | Pesel | Fingerprint
    subject_value: Mapped[str | None] = mapped_column(sa.String(64))
    subject_name: Mapped[str | None] = mapped_column(sa.String(200))
    method: Mapped[str] = mapped_column(sa.String(40))
    category: Mapped[str] = mapped_column(sa.String(40))
    ksef_token_ref: Mapped[str | None] = mapped_column(sa.String(36))
    document_hash: Mapped[str | None] = mapped_column(sa.String(44))
    allowed_ips: Mapped[dict[str, Any] | None]
    status_code: Mapped[int] = mapped_column(default=100)
    status_details: Mapped[list[Any] | None]
    started_at: Mapped[dt.datetime]
    redeemed_at: Mapped[dt.datetime | None]
    last_refresh_at: Mapped[dt.datetime | None]
    refresh_valid_until: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class Grant(Base):
    """A permission record: person, entity, indirect or authorization grant."""

    __tablename__ = "sbx_grant"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    context_type: Mapped[str] = mapped_column(sa.String(20))
    context_value: Mapped[str] = mapped_column(sa.String(64), index=True)
    grantee_type: Mapped[str] = mapped_column(sa.String(20))
    grantee_value: Mapped[str] = mapped_column(sa.String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(sa.String(20))
    target_value: Mapped[str | None] = mapped_column(sa.String(64))
    permission: Mapped[str] = mapped_column(sa.String(40))
    can_delegate: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(sa.String(256))
    author_type: Mapped[str] = mapped_column(sa.String(20))
    author_value: Mapped[str | None] = mapped_column(sa.String(64))
    subject_details: Mapped[dict[str, Any] | None]
    start_date: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Operation(Base):
    """An asynchronous permission operation (grant or revoke)."""

    __tablename__ = "sbx_operation"
    reference_number: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    context_value: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    status_details: Mapped[list[Any] | None]
    created_at: Mapped[dt.datetime]


class KsefToken(Base):
    __tablename__ = "sbx_token"
    reference_number: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    context_type: Mapped[str] = mapped_column(sa.String(20))
    context_value: Mapped[str] = mapped_column(sa.String(64), index=True)
    author_type: Mapped[str] = mapped_column(sa.String(20))
    author_value: Mapped[str] = mapped_column(sa.String(64))
    permissions: Mapped[list[Any]]
    description: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[dt.datetime]
    active_from: Mapped[dt.datetime]
    last_use_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class InvoiceSession(Base):
    __tablename__ = "sbx_session"
    reference_number: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    session_type: Mapped[str] = mapped_column(sa.String(10))  # Online | Batch
    context_type: Mapped[str] = mapped_column(sa.String(20))
    context_value: Mapped[str] = mapped_column(sa.String(64), index=True)
    opener_type: Mapped[str | None] = mapped_column(sa.String(20))
    opener_value: Mapped[str | None] = mapped_column(sa.String(64))
    auth_reference: Mapped[str] = mapped_column(sa.String(36))
    auth_token_ref: Mapped[str | None] = mapped_column(sa.String(36))
    auth_document_hash: Mapped[str | None] = mapped_column(sa.String(44))
    form_code: Mapped[dict[str, Any]]
    aes_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    iv: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    offline_mode: Mapped[bool] = mapped_column(default=False)
    batch: Mapped[dict[str, Any] | None]
    status_code: Mapped[int] = mapped_column(default=100)
    status_details: Mapped[list[Any] | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    valid_until: Mapped[dt.datetime]
    invoice_count: Mapped[int] = mapped_column(default=0)
    upo_reference: Mapped[str | None] = mapped_column(sa.String(36))


class Invoice(Base):
    __tablename__ = "sbx_invoice"
    reference_number: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    session_reference: Mapped[str] = mapped_column(sa.String(36), index=True)
    ordinal_number: Mapped[int]
    invoice_hash: Mapped[str] = mapped_column(sa.String(44))
    invoice_size: Mapped[int]
    file_name: Mapped[str | None] = mapped_column(sa.String(255))
    encrypted: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    xml: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    offline_mode: Mapped[bool] = mapped_column(default=False)
    hash_of_corrected: Mapped[str | None] = mapped_column(sa.String(44))
    status_code: Mapped[int] = mapped_column(default=100)
    status_details: Mapped[list[Any] | None]
    status_extensions: Mapped[dict[str, Any] | None]
    invoicing_date: Mapped[dt.datetime]
    acquisition_date: Mapped[dt.datetime | None]
    permanent_storage_date: Mapped[dt.datetime | None] = mapped_column(index=True)
    ksef_number: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    invoicing_mode: Mapped[str | None] = mapped_column(sa.String(10))
    # extracted for queries and the duplicate check
    invoice_number: Mapped[str | None] = mapped_column(sa.String(256))
    invoice_type: Mapped[str | None] = mapped_column(sa.String(10))
    seller_nip: Mapped[str | None] = mapped_column(sa.String(10), index=True)
    buyer_nip: Mapped[str | None] = mapped_column(sa.String(10), index=True)
    meta: Mapped[dict[str, Any] | None]


class Store:
    """Engine and sessions of the sandbox state database."""

    def __init__(self, url: str, clock: Callable[[], dt.datetime] = utcnow) -> None:
        connect_args: dict[str, Any] = (
            {"check_same_thread": False} if url.startswith("sqlite") else {}
        )
        self.engine = sa.create_engine(url, connect_args=connect_args)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.clock = clock
        self.jwt_secret: str | None = None  # cached by security.jwt_secret

    def now(self) -> dt.datetime:
        return self.clock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class StoredPart(Base):
    """A batch part uploaded by a client, or an export part prepared for one."""

    __tablename__ = "sbx_part"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_reference: Mapped[str] = mapped_column(sa.String(36), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # batch | export
    ordinal_number: Mapped[int]
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    uploaded_at: Mapped[dt.datetime]


class Export(Base):
    __tablename__ = "sbx_export"
    reference_number: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    context_value: Mapped[str] = mapped_column(sa.String(64), index=True)
    status_code: Mapped[int]
    created_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    package: Mapped[dict[str, Any] | None]
