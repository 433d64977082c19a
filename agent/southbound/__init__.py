"""Clients for the world: the controller link (and later the simulator backend and
the service-function instance manager)."""
