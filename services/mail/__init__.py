"""Mail: messages built from templates, written to the outbox in the act's transaction, sent by the worker."""
