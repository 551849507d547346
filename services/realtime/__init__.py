"""Live co-editing: an automerge-repo compatible sync server (WebSocket `/api/v1/sync`)."""
