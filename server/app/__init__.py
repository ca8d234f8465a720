"""Use cases: each is one transaction that applies a rule, persists it and records what happened."""
