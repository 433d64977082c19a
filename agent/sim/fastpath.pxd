# Cython declarations for fastpath.py: C types for the hot loop's locals (see flows.pxd).
# Every name typed here holds only values of that type in run_plain_step; a local that
# may hold None (a processing delay without a fixed value) stays a Python object.
import cython
from agent.sim.flows cimport Flow, NodeState

@cython.locals(flow=Flow, node=NodeState, time=cython.double, here=cython.long, n=cython.long,
               n_sfs=cython.long, key=cython.long, pkey=cython.long, target=cython.long,
               sf=cython.long, stage=cython.int, ttl=cython.double, rate=cython.double,
               demand=cython.double, done=cython.double, start=cython.double,
               begin=cython.double, load=cython.double, left=cython.double,
               pos=cython.long, last_pos=cython.long, i=cython.long, flow_count=cython.long,
               duration=cython.double, sent=cython.long, held_sf=cython.long, held=cython.double,
               alive=cython.double, kind=cython.long, track=cython.bint, in_order=cython.bint,
               round_robin=cython.bint)
cpdef void run_plain_step(object core, double end)
