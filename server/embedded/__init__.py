"""Real PostgreSQL and Valkey servers from PyPI wheels, run as plain processes for dev and tests."""

from .postgres import EmbeddedPostgres, free_port
from .valkey import EmbeddedValkey

__all__ = ["EmbeddedPostgres", "EmbeddedValkey", "free_port"]
