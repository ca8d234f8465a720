"""`make chaos`: a bounded fault campaign against a stack it starts itself, then the invariants of docs/product.md §4–§8."""

import os

# The campaign forks server and worker processes while its own gRPC client threads run; gRPC's fork
# handlers would only log that they are skipped. Children get the environment as it was (chaos/stack.py).
FORK_SUPPORT_SET_HERE = "GRPC_ENABLE_FORK_SUPPORT" not in os.environ
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
