"""The gRPC edge: servicer, proto <-> domain conversion, the error table, the server."""
