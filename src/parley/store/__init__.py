"""Storage: one contract (``Store``), held by SQLite and PostgreSQL alike."""
