# Cython declarations for flows.py (compiled by setup.py when a C compiler is there; the
# .py file stays the source and the pure-Python fallback). Flows and nodes become C
# structs whose fields the compiled fastpath reads without a dictionary lookup; Python
# code sees the same attributes. Keep the fields in step with the classes' __slots__.
cdef class Flow:
    cdef public long id, chain, node, egress, pos, sf, hop_i, epoch
    cdef public double rate, duration, ttl, delay, path_delay
    cdef public object sfs, hops
    cdef public bint to_egress

cdef class NodeState:
    cdef public double cap, load, max_usage
    cdef public object instances, placed, releases
    cdef public bint down
    cdef public long epoch
