"""The pure core: records, runs, findings, pairing. Imports no I/O (import-linter enforces it)."""
