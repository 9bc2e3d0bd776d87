"""PostgreSQL runbook (section 2.1 and the database first actions of 4.2)."""
