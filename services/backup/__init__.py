"""Backups: the whole database to one archive (`cogov export`) and back (`cogov import`)."""
