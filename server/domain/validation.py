"""Field rules for requests (docs/product.md §8). Collect every violation, then raise once."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from server.domain.errors import FieldViolation, InvalidArgument

SLUG = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ORG_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
LABEL_KEY = re.compile(r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$")
PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")

MAX_PARAMS_BYTES = 64 * 1024
MAX_LABELS = 64
MAX_LABEL_VALUE = 255
MAX_CONNECTIONS = 64
MAX_SECRETS = 64
MAX_SECRET_BYTES = 8 * 1024
MAX_TEXT = 1024
MAX_REQUEST_ID = 255
MAX_PAGE_SIZE = 1000
MAX_FILTER = 1024
MAX_ARTIFACT_BYTES = 1024 * 1024  # inline (PublishRelease) and per UploadRelease chunk
MAX_UPLOAD_BYTES = 1 << 30  # a whole uploaded artifact


class Violations:
    """Collects field violations; `check()` raises InvalidArgument if there are any."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def check(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)

    def organization(self, value: str) -> None:
        if not value:
            self.add("organization_id", "required")
        elif not ORG_SLUG.fullmatch(value):
            self.add("organization_id", "must be 2-63 lowercase letters, digits or '-'")

    def uuid(self, field: str, value: str, required: bool = True) -> None:
        if not value:
            if required:
                self.add(field, "required")
            return
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            self.add(field, "must be a UUID")
            return
        if str(parsed) != value.lower():
            self.add(field, "must be a UUID in canonical form")

    def slug(self, field: str, value: str, required: bool = True) -> None:
        if not value:
            if required:
                self.add(field, "required")
        elif not SLUG.fullmatch(value):
            self.add(field, "must be 1-63 lowercase letters, digits or '-', starting with a letter")

    def text(self, field: str, value: str, limit: int = MAX_TEXT) -> None:
        if len(value) > limit:
            self.add(field, f"must be at most {limit} characters")
        if "\x00" in value:
            self.add(field, "must not contain NUL characters")

    def request_id(self, value: str) -> None:
        if not value:
            return
        if len(value) > MAX_REQUEST_ID:
            self.add("request_id", f"must be at most {MAX_REQUEST_ID} characters")
        elif not PRINTABLE_ASCII.fullmatch(value):
            self.add("request_id", "must be printable ASCII without spaces")

    def params(self, field: str, value: dict[str, Any]) -> None:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_PARAMS_BYTES:
            self.add(field, f"must be at most {MAX_PARAMS_BYTES} bytes as JSON (got {size})")
        if _has_nul(value):
            self.add(field, "must not contain NUL characters")

    def labels(self, field: str, labels: dict[str, str]) -> None:
        if len(labels) > MAX_LABELS:
            self.add(field, f"at most {MAX_LABELS} labels")
        for key, value in labels.items():
            if not LABEL_KEY.fullmatch(key):
                self.add(f"{field}[{key[:64]}]", "key must be 1-63 of a-z 0-9 . _ / -")
            elif len(value) > MAX_LABEL_VALUE or "\x00" in value:
                self.add(f"{field}[{key}]", f"value must be at most {MAX_LABEL_VALUE} characters, no NUL")

    def connections(self, field: str, connections: dict[str, str]) -> None:
        if len(connections) > MAX_CONNECTIONS:
            self.add(field, f"at most {MAX_CONNECTIONS} connections")
        for name, target in connections.items():
            if not SLUG.fullmatch(name.replace("_", "-")):
                self.add(f"{field}[{name[:64]}]", "name must be 1-63 of a-z 0-9 _ -, starting with a letter")
            else:
                self.uuid(f"{field}[{name}]", target)

    def replicas(self, field: str, value: int, dynamic: bool) -> None:
        if value < 0 or value > 100:
            self.add(field, "must be between 0 and 100")
        elif not dynamic and value != 0:
            self.add(field, "must be 0 for a STATIC instance")

    def page_size(self, value: int) -> None:
        if value < 0 or value > MAX_PAGE_SIZE:
            self.add("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")

    def version_constraint(self, field: str, value: str) -> None:
        from server.domain.semver import Constraint, InvalidVersion

        if len(value) > 256:
            self.add(field, "must be at most 256 characters")
            return
        try:
            Constraint.parse(value)
        except InvalidVersion as exc:
            self.add(field, str(exc))


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store U+0000 in text or jsonb."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
