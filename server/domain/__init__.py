"""Pure rules of the product: no gRPC, SQL, Redis, clock or uuid generation here."""
