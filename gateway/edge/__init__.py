"""What faces the network: the server and its connection limits, bounded request bodies, and
the bounded drain on shutdown."""
