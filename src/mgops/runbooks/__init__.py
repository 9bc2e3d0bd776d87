"""Runbook procedures as safe, audited commands: one package per system."""
