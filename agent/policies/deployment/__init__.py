"""Deployment policies: place SFC requests on a substrate (heuristics, learned, MILP)."""
