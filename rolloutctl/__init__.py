"""rolloutctl: the operator's command line for rollout, over the same gRPC contract as every client."""
