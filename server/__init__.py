"""rollout: a gRPC control plane for proposing, approving, running and rolling back deployments."""
