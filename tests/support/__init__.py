"""Test helpers that build real environments (OVS test beds, controller processes)."""
