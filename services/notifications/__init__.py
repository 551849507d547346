"""Notifications and following: every event a person must act on or asked to hear of, in-app and by mail."""
