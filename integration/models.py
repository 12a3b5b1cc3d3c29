"""Every table of the service, imported in one place so that metadata is complete."""

from integration.accounts import models as accounts_models
from integration.mail import models as mail_models

__all__ = ["accounts_models", "mail_models"]
