"""Standards other systems read: CAP 1.2 alert documents and their HTTP feed."""

__all__ = [
    "cap",
    "cap_http",
]
