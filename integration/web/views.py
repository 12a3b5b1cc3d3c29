"""The pages, one module per area as the API is: each adds its routes to one blueprint."""

from integration.web import (  # noqa: F401 (imported for their routes)
    audit,
    clients,
    invoices,
    ksef_access,
    licence,
    mail,
    masterdata,
    people,
    platform,
    session,
)
from integration.web.common import bp

__all__ = ["bp"]
