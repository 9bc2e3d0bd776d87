"""The incident desk: lifecycle, checklists, SLA clocks, comms, post-mortems."""
