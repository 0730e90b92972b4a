"""The forms of the dashboard pages, by domain."""
