"""The gateway: one front door for every service."""
