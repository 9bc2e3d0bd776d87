"""The incident desk: lifecycle, checklists, SLA clocks, communications, post-mortems."""
