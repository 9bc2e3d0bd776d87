"""Redis runbook (section 2.2): inspection, pattern deletes, sessions, rate limits."""
