"""SDN coordination agent: simulator, policies and the daemon that runs them."""

__version__ = "0.1.0"
