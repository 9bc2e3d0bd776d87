"""Alert intake: Alertmanager webhooks and Events v2 events become alert groups."""
