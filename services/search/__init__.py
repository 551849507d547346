"""Search: one index of everything public, its queries, and the worker step that keeps norms '  live text in it."""
