"""Local stand-ins for the messaging platforms' servers, for `congdan demo`, tests and benchmarks."""

__all__ = [
    "telegram",
]
