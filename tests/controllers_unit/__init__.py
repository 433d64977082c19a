"""Unit tests of the os-ken app (controllers/): fake switches, no root, no OVS."""
