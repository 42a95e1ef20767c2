"""Business operations. Views call these; each owns its transaction."""
