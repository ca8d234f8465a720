"""Bearer tokens are random secrets; only their hash is ever stored or compared."""

from __future__ import annotations

import hashlib

PREFIX = "rlt_"


def hash_token(token: str) -> str:
    """sha256 of the token, hex: what the tokens table keeps instead of the secret."""
    return hashlib.sha256(token.encode()).hexdigest()
