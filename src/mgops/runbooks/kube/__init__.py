"""Service runbooks on Kubernetes: status, restart, scale, config, secrets, flags.

``client.py`` is the only module that talks to the API; the command modules take
a ``Scope`` (client, store, policy, clock, namespace) and return plain results
that the CLI renders.
"""
