"""Store tests: every one runs on a SQLite file and on the real PostgreSQL."""
