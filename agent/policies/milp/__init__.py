"""Coordination as a MILP (hvc's model, solved with HiGHS), centralised or top-down over a
domain hierarchy; see docs/milp.md.

- ``model``, ``lp``, ``solve``: one MILP, its lexicographic objective in stages, and why
  a problem has no solution;
- ``hierarchy``, ``advertise``, ``interpret``, ``coordinate``, ``parallel``: k-means
  hierarchies, what domains advertise upward, sub-requests downward, domains solved side
  by side;
- ``api``: a loaded problem end to end; ``decision``, ``policy``: the plan as a Decision
  and as the policy ``milp``.
"""
