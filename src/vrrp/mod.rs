//! VRRP v2/v3: packet codec, I/O-free state machine, and the adapters around it.
