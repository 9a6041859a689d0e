"""Messaging platforms: each adapter turns its updates into calls on the domain and
renders replies and outbox rows in its own terms. Platforms never import each other.
"""

__all__ = [
    "telegram",
]
