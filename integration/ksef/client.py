"""Typed KSeF endpoints. Wire names (camelCase) stay here; callers get Python values."""

from __future__ import annotations

import datetime as dt
from base64 import b64encode
from dataclasses import dataclass
from typing import Any

from integration.ksef.transport import KsefHttp


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _required_time(value: str) -> dt.datetime:
    parsed = _time(value)
    assert parsed is not None
    return parsed


@dataclass(frozen=True)
class PublicKey:
    certificate: str  # b64 DER
    public_key_id: str
    usage: tuple[str, ...]
    valid_from: dt.datetime
    valid_to: dt.datetime


@dataclass(frozen=True)
class Challenge:
    challenge: str
    timestamp: dt.datetime
    timestamp_ms: int
    client_ip: str


@dataclass(frozen=True)
class Token:
    token: str
    valid_until: dt.datetime


@dataclass(frozen=True)
class AuthInit:
    reference_number: str
    authentication_token: Token


@dataclass(frozen=True)
class AuthStatus:
    code: int
    description: str
    details: tuple[str, ...]
    method: str


@dataclass(frozen=True)
class TokenPair:
    access: Token
    refresh: Token


@dataclass(frozen=True)
class KsefTokenStatus:
    reference_number: str
    status: str  # Pending | Active | Revoking | Revoked | Failed
    permissions: tuple[str, ...]
    context_value: str


@dataclass(frozen=True)
class InvoiceStatus:
    """Where KSeF is with one invoice sent in a session."""

    reference_number: str
    code: int
    description: str
    details: tuple[str, ...]
    extensions: dict[str, str]
    ksef_number: str | None
    acquired_at: dt.datetime | None
    file_name: str | None = None  # the file's name in a batch package
    invoice_hash: str = ""  # SHA-256 (base64) of the invoice, where KSeF lists it

    @property
    def pending(self) -> bool:
        return self.code in (100, 150)


@dataclass(frozen=True)
class SessionStatus:
    """Where KSeF is with a whole session (for a batch: 100 open, 150 processing)."""

    code: int
    description: str
    details: tuple[str, ...]

    @property
    def pending(self) -> bool:
        return self.code in (100, 150, 170)


@dataclass(frozen=True)
class PartUpload:
    """Where and how to upload one encrypted part of a batch package (no bearer token)."""

    ordinal: int
    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class SessionInvoices:
    invoices: list[InvoiceStatus]
    continuation: str | None


@dataclass(frozen=True)
class InvoiceMetadata:
    """One row of a metadata query (the fields the service keeps)."""

    ksef_number: str
    invoice_number: str
    invoice_type: str
    issue_date: dt.date
    seller_nip: str
    seller_name: str
    buyer_identifier: str | None
    buyer_name: str
    gross_amount: str
    currency: str
    permanent_storage_date: dt.datetime | None


@dataclass(frozen=True)
class MetadataPage:
    invoices: list[InvoiceMetadata]
    has_more: bool
    is_truncated: bool
    permanent_storage_hwm: dt.datetime | None


def _invoice_status(d: dict[str, Any]) -> InvoiceStatus:
    status = d["status"]
    return InvoiceStatus(
        reference_number=d["referenceNumber"],
        code=int(status["code"]),
        description=str(status.get("description") or ""),
        details=tuple(str(x) for x in status.get("details") or ()),
        extensions={str(k): str(v) for k, v in (status.get("extensions") or {}).items()},
        ksef_number=d.get("ksefNumber"),
        acquired_at=_time(d.get("acquisitionDate")),
        file_name=d.get("invoiceFileName"),
        invoice_hash=str(d.get("invoiceHash") or ""),
    )


def _token(data: dict[str, Any]) -> Token:
    return Token(token=data["token"], valid_until=_required_time(data["validUntil"]))


class KsefClient:
    """One gateway for every context; credentials are passed with each call."""

    def __init__(self, http: KsefHttp) -> None:
        self.http = http
        self.permissions = PermissionsApi(http)

    # -- security and challenge --------------------------------------------------------
    def public_keys(self) -> list[PublicKey]:
        data = self.http.request("GET", "/security/public-key-certificates").json()
        return [
            PublicKey(
                certificate=k["certificate"],
                public_key_id=k["publicKeyId"],
                usage=tuple(k["usage"]),
                valid_from=_required_time(k["validFrom"]),
                valid_to=_required_time(k["validTo"]),
            )
            for k in data
        ]

    def public_key(self, usage: str) -> PublicKey:
        """The valid key for ``usage`` with the latest ``validFrom``."""
        now = dt.datetime.now(dt.UTC)
        candidates = [
            k for k in self.public_keys() if usage in k.usage and k.valid_from <= now <= k.valid_to
        ]
        if not candidates:
            raise LookupError(f"KSeF publishes no valid {usage} key")
        return max(candidates, key=lambda k: k.valid_from)

    def challenge(self) -> Challenge:
        d = self.http.request("POST", "/auth/challenge").json()
        return Challenge(
            challenge=d["challenge"],
            timestamp=_required_time(d["timestamp"]),
            timestamp_ms=int(d["timestampMs"]),
            client_ip=d.get("clientIp", ""),
        )

    # -- authentication ----------------------------------------------------------------
    def auth_ksef_token(
        self, *, challenge: str, context_nip: str, encrypted_token: str, public_key_id: str
    ) -> AuthInit:
        d = self.http.request(
            "POST",
            "/auth/ksef-token",
            expect=(202,),
            json={
                "challenge": challenge,
                "contextIdentifier": {"type": "Nip", "value": context_nip},
                "encryptedToken": encrypted_token,
                "publicKeyId": public_key_id,
            },
        ).json()
        return AuthInit(d["referenceNumber"], _token(d["authenticationToken"]))

    def auth_xades(self, signed_xml: bytes) -> AuthInit:
        d = self.http.request(
            "POST",
            "/auth/xades-signature",
            expect=(202,),
            content=signed_xml,
            headers={"Content-Type": "application/xml"},
        ).json()
        return AuthInit(d["referenceNumber"], _token(d["authenticationToken"]))

    def auth_status(self, reference_number: str, *, authentication_token: str) -> AuthStatus:
        d = self.http.request(
            "GET", f"/auth/{reference_number}", bearer=authentication_token
        ).json()
        status = d["status"]
        return AuthStatus(
            code=int(status["code"]),
            description=status.get("description", ""),
            details=tuple(status.get("details") or ()),
            method=d.get("authenticationMethod", ""),
        )

    def redeem(self, *, authentication_token: str) -> TokenPair:
        d = self.http.request("POST", "/auth/token/redeem", bearer=authentication_token).json()
        return TokenPair(access=_token(d["accessToken"]), refresh=_token(d["refreshToken"]))

    def refresh(self, *, refresh_token: str) -> Token:
        d = self.http.request("POST", "/auth/token/refresh", bearer=refresh_token).json()
        return _token(d["accessToken"])

    def revoke_current_session(self, *, access_token: str) -> None:
        self.http.request("DELETE", "/auth/sessions/current", bearer=access_token, expect=(204,))

    # -- sessions and limits ------------------------------------------------------------
    def list_sessions(
        self, *, access_token: str, session_type: str = "Online", page_size: int = 10
    ) -> list[dict[str, Any]]:
        d = self.http.request(
            "GET",
            "/sessions",
            bearer=access_token,
            params={"sessionType": session_type, "pageSize": page_size},
        ).json()
        return list(d.get("sessions") or [])

    def rate_limits(self, *, access_token: str) -> dict[str, tuple[int, int, int]]:
        d = self.http.request("GET", "/rate-limits", bearer=access_token).json()
        return {
            group: (int(v["perSecond"]), int(v["perMinute"]), int(v["perHour"]))
            for group, v in d.items()
            if isinstance(v, dict)
        }

    # -- KSeF tokens -------------------------------------------------------------------
    def create_token(
        self, *, access_token: str, permissions: list[str], description: str
    ) -> tuple[str, str]:
        d = self.http.request(
            "POST",
            "/tokens",
            bearer=access_token,
            expect=(202,),
            json={"permissions": permissions, "description": description},
        ).json()
        return d["referenceNumber"], d["token"]

    def token_status(self, reference_number: str, *, access_token: str) -> KsefTokenStatus:
        d = self.http.request("GET", f"/tokens/{reference_number}", bearer=access_token).json()
        return KsefTokenStatus(
            reference_number=d["referenceNumber"],
            status=d["status"],
            permissions=tuple(d.get("requestedPermissions") or ()),
            context_value=d["contextIdentifier"]["value"],
        )

    def revoke_token(self, reference_number: str, *, access_token: str) -> None:
        self.http.request(
            "DELETE", f"/tokens/{reference_number}", bearer=access_token, expect=(204,)
        )

    # -- online sessions -----------------------------------------------------------------
    def open_online_session(
        self, *, access_token: str, encrypted_key: str, iv: str, system_code: str = "FA (3)"
    ) -> str:
        d = self.http.request(
            "POST",
            "/sessions/online",
            bearer=access_token,
            expect=(201,),
            json={
                "formCode": {"systemCode": system_code, "schemaVersion": "1-0E", "value": "FA"},
                "encryption": {"encryptedSymmetricKey": encrypted_key, "initializationVector": iv},
            },
        ).json()
        return str(d["referenceNumber"])

    def send_invoice(
        self,
        session_reference: str,
        *,
        access_token: str,
        invoice_hash: str,
        invoice_size: int,
        encrypted: bytes,
        encrypted_hash: str,
    ) -> str:
        d = self.http.request(
            "POST",
            f"/sessions/online/{session_reference}/invoices",
            bearer=access_token,
            expect=(202,),
            json={
                "invoiceHash": invoice_hash,
                "invoiceSize": invoice_size,
                "encryptedInvoiceHash": encrypted_hash,
                "encryptedInvoiceSize": len(encrypted),
                "encryptedInvoiceContent": b64encode(encrypted).decode("ascii"),
                "offlineMode": False,
            },
        ).json()
        return str(d["referenceNumber"])

    def close_online_session(self, session_reference: str, *, access_token: str) -> None:
        self.http.request(
            "POST",
            f"/sessions/online/{session_reference}/close",
            bearer=access_token,
            expect=(204,),
        )

    def invoice_status(
        self, session_reference: str, invoice_reference: str, *, access_token: str
    ) -> InvoiceStatus:
        d = self.http.request(
            "GET",
            f"/sessions/{session_reference}/invoices/{invoice_reference}",
            bearer=access_token,
        ).json()
        return _invoice_status(d)

    # -- batch sessions ------------------------------------------------------------------
    def open_batch_session(
        self,
        *,
        access_token: str,
        file_size: int,
        file_hash: str,
        parts: list[tuple[int, str]],
        encrypted_key: str,
        iv: str,
        system_code: str = "FA (3)",
    ) -> tuple[str, list[PartUpload]]:
        """Declare a package (its ZIP's size and hash, each encrypted part's size and hash)."""
        d = self.http.request(
            "POST",
            "/sessions/batch",
            bearer=access_token,
            expect=(201,),
            json={
                "formCode": {"systemCode": system_code, "schemaVersion": "1-0E", "value": "FA"},
                "batchFile": {
                    "fileSize": file_size,
                    "fileHash": file_hash,
                    "fileParts": [
                        {"ordinalNumber": n, "fileSize": size, "fileHash": digest}
                        for n, (size, digest) in enumerate(parts, start=1)
                    ],
                },
                "encryption": {"encryptedSymmetricKey": encrypted_key, "initializationVector": iv},
                "offlineMode": False,
            },
        ).json()
        uploads = [
            PartUpload(
                ordinal=int(u["ordinalNumber"]),
                method=str(u.get("method") or "PUT"),
                url=str(u["url"]),
                headers={
                    str(k): str(v) for k, v in (u.get("headers") or {}).items() if v is not None
                },
            )
            for u in d["partUploadRequests"]
        ]
        return str(d["referenceNumber"]), sorted(uploads, key=lambda u: u.ordinal)

    def upload_part(self, upload: PartUpload, data: bytes) -> None:
        """Upload one part to its pre-signed address, with exactly the headers KSeF gave."""
        self.http.request(
            upload.method,
            upload.url,
            content=data,
            headers=upload.headers,
            expect=(200, 201),
            exact_headers=True,
        )

    def close_batch_session(self, session_reference: str, *, access_token: str) -> None:
        self.http.request(
            "POST",
            f"/sessions/batch/{session_reference}/close",
            bearer=access_token,
            expect=(204,),
        )

    def session_status(self, session_reference: str, *, access_token: str) -> SessionStatus:
        d = self.http.request("GET", f"/sessions/{session_reference}", bearer=access_token).json()
        status = d["status"]
        return SessionStatus(
            code=int(status["code"]),
            description=str(status.get("description") or ""),
            details=tuple(str(x) for x in status.get("details") or ()),
        )

    def session_invoices(
        self,
        session_reference: str,
        *,
        access_token: str,
        continuation: str | None = None,
        page_size: int = 1000,
    ) -> SessionInvoices:
        """One page of the statuses of every invoice in a session."""
        d = self.http.request(
            "GET",
            f"/sessions/{session_reference}/invoices",
            bearer=access_token,
            params={"pageSize": page_size},
            headers={"x-continuation-token": continuation} if continuation else None,
        ).json()
        return SessionInvoices(
            invoices=[_invoice_status(row) for row in d.get("invoices") or []],
            continuation=d.get("continuationToken") or None,
        )

    def invoice_upo(self, session_reference: str, ksef_number: str, *, access_token: str) -> bytes:
        """The UPO of one accepted invoice (XML), found by its KSeF number."""
        return self.http.request(
            "GET",
            f"/sessions/{session_reference}/invoices/ksef/{ksef_number}/upo",
            bearer=access_token,
            headers={"Accept": "application/xml"},
        ).content

    # -- retrieval -----------------------------------------------------------------------
    def query_metadata(
        self,
        *,
        access_token: str,
        subject_type: str,
        date_type: str,
        date_from: dt.datetime,
        date_to: dt.datetime | None = None,
        page_offset: int = 0,
        page_size: int = 250,
    ) -> MetadataPage:
        date_range: dict[str, Any] = {"dateType": date_type, "from": _iso(date_from)}
        if date_to is not None:
            date_range["to"] = _iso(date_to)
        if date_type == "PermanentStorage":
            date_range["restrictToPermanentStorageHwmDate"] = True
        d = self.http.request(
            "POST",
            "/invoices/query/metadata",
            bearer=access_token,
            params={"pageOffset": page_offset, "pageSize": page_size, "sortOrder": "Asc"},
            json={"subjectType": subject_type, "dateRange": date_range},
        ).json()
        return MetadataPage(
            invoices=[_metadata(row) for row in d.get("invoices") or []],
            has_more=bool(d.get("hasMore")),
            is_truncated=bool(d.get("isTruncated")),
            permanent_storage_hwm=_time(d.get("permanentStorageHwmDate")),
        )

    def download_invoice(self, ksef_number: str, *, access_token: str) -> bytes:
        return self.http.request(
            "GET",
            f"/invoices/ksef/{ksef_number}",
            bearer=access_token,
            headers={"Accept": "application/xml"},
        ).content


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _metadata(row: dict[str, Any]) -> InvoiceMetadata:
    buyer = row.get("buyer") or {}
    identifier = buyer.get("identifier") or {}
    seller = row.get("seller") or {}
    return InvoiceMetadata(
        ksef_number=row["ksefNumber"],
        invoice_number=str(row.get("invoiceNumber") or ""),
        invoice_type=str(row.get("invoiceType") or ""),
        issue_date=dt.date.fromisoformat(row["issueDate"]),
        seller_nip=str(seller.get("nip") or ""),
        seller_name=str(seller.get("name") or ""),
        buyer_identifier=identifier.get("value"),
        buyer_name=str(buyer.get("name") or ""),
        gross_amount=str(row.get("grossAmount") or "0"),
        currency=str(row.get("currency") or "PLN"),
        permanent_storage_date=_time(row.get("permanentStorageDate")),
    )


@dataclass(frozen=True)
class Permission:
    """One permission KSeF holds in a context (one right of one grantee)."""

    permission_id: str
    grantee_type: str
    grantee_value: str
    scope: str
    can_delegate: bool
    active: bool
    description: str
    target_value: str | None = None


def _person(
    identifier_type: str, identifier: str, first_name: str, last_name: str
) -> dict[str, Any]:
    return {
        "subjectIdentifier": {"type": identifier_type, "value": identifier},
        "subjectDetails": {
            "subjectDetailsType": "PersonByIdentifier",
            "personById": {"firstName": first_name, "lastName": last_name},
        },
    }


class PermissionsApi:
    """Grants in the caller's context: person and entity grants, revocation, operations."""

    def __init__(self, http: KsefHttp) -> None:
        self.http = http

    def grant_person(
        self,
        *,
        access_token: str,
        identifier_type: str,
        identifier: str,
        permissions: list[str],
        first_name: str,
        last_name: str,
        description: str,
    ) -> str:
        d = self.http.request(
            "POST",
            "/permissions/persons/grants",
            bearer=access_token,
            expect=(202,),
            json={
                **_person(identifier_type, identifier, first_name, last_name),
                "permissions": permissions,
                "description": description,
            },
        ).json()
        return str(d["referenceNumber"])

    def grant_entity(
        self,
        *,
        access_token: str,
        nip: str,
        permissions: list[str],
        can_delegate: bool,
        full_name: str,
        description: str,
    ) -> str:
        d = self.http.request(
            "POST",
            "/permissions/entities/grants",
            bearer=access_token,
            expect=(202,),
            json={
                "subjectIdentifier": {"type": "Nip", "value": nip},
                "permissions": [{"type": p, "canDelegate": can_delegate} for p in permissions],
                "description": description,
                "subjectDetails": {"fullName": full_name},
            },
        ).json()
        return str(d["referenceNumber"])

    def grant_indirect(
        self,
        *,
        access_token: str,
        pesel: str,
        permissions: list[str],
        first_name: str,
        last_name: str,
        target_nip: str,
        description: str,
    ) -> str:
        """In the bureau's context: pass rights the client gave the bureau on to a person."""
        d = self.http.request(
            "POST",
            "/permissions/indirect/grants",
            bearer=access_token,
            expect=(202,),
            json={
                **_person("Pesel", pesel, first_name, last_name),
                "targetIdentifier": {"type": "Nip", "value": target_nip},
                "permissions": permissions,
                "description": description,
            },
        ).json()
        return str(d["referenceNumber"])

    def revoke(self, permission_id: str, *, access_token: str) -> str:
        d = self.http.request(
            "DELETE",
            f"/permissions/common/grants/{permission_id}",
            bearer=access_token,
            expect=(202,),
        ).json()
        return str(d["referenceNumber"])

    def operation_status(self, reference: str, *, access_token: str) -> tuple[int, str]:
        d = self.http.request(
            "GET", f"/permissions/operations/{reference}", bearer=access_token
        ).json()
        status = d["status"]
        details = "; ".join(str(x) for x in status.get("details") or ())
        text = str(status.get("description") or "")
        return int(status["code"]), f"{text}: {details}" if details else text

    def granted_in_context(
        self, *, access_token: str, query_type: str = "PermissionsInCurrentContext"
    ) -> list[Permission]:
        """Permissions of the caller's context: held in it (persons and entities), or with
        ``PermissionsGrantedInCurrentContext`` also those it passed on (indirect)."""
        out: list[Permission] = []
        page = 0
        while True:
            d = self.http.request(
                "POST",
                "/permissions/query/persons/grants",
                bearer=access_token,
                params={"pageOffset": page, "pageSize": 100},
                json={"queryType": query_type},
            ).json()
            for item in d.get("permissions") or []:
                who = item.get("authorizedIdentifier") or {}
                out.append(
                    Permission(
                        permission_id=str(item["id"]),
                        grantee_type=str(who.get("type") or ""),
                        grantee_value=str(who.get("value") or ""),
                        scope=str(item.get("permissionScope") or ""),
                        can_delegate=bool(item.get("canDelegate")),
                        active=item.get("permissionState", "Active") == "Active",
                        description=str(item.get("description") or ""),
                        target_value=(item.get("targetIdentifier") or {}).get("value"),
                    )
                )
            if not d.get("hasMore"):
                return out
            page += 1
