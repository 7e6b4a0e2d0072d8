"""Data rights: export and erasure of a student's personal data, per-school retention,
and the audit log of sensitive actions (docs/privacy.md)."""
