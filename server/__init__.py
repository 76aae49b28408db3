"""The gRPC service, its ledger store, auth and health."""
