from driftcontrol.cli import audit, health, keys, users

COMMANDS = [audit.GROUP, health.COMMAND, users.GROUP, keys.GROUP]
