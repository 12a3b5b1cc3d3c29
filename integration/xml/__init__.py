"""Hardened XML parsing; schema validation and XAdES build on it."""

from integration.xml.parsing import XmlRejected, parse

__all__ = ["XmlRejected", "parse"]
