"""The clearing house: publishes adopted norms as signed entries, serves their feeds, pushes them
through a WebSub hub with durable deliveries, and lets staff curate them. It never decides.
"""
