"""The ledger: what shadow has seen and judged, in SQLite or PostgreSQL."""
