from driftcontrol.cli import audit, health, keys, tokens, users, webhooks

COMMANDS = [audit.GROUP, health.COMMAND, users.GROUP, keys.GROUP, tokens.GROUP, webhooks.GROUP]
