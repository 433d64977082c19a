"""The os-ken controller app against real (userspace) Open vSwitch."""
