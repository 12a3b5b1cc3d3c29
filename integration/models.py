"""Every table of the service, imported in one place so that metadata is complete."""

from integration.accounts import models as accounts_models
from integration.api import idempotency as api_models
from integration.audit import models as audit_models
from integration.credentials import models as credentials_models
from integration.invoices import models as invoices_models
from integration.licensing import models as licensing_models
from integration.mail import models as mail_models
from integration.masterdata import models as masterdata_models
from integration.permissions import models as permissions_models
from integration.quota import models as quota_models

__all__ = [
    "accounts_models",
    "api_models",
    "audit_models",
    "credentials_models",
    "invoices_models",
    "licensing_models",
    "mail_models",
    "masterdata_models",
    "permissions_models",
    "quota_models",
]
