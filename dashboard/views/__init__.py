"""The pages, one module per area; shared page helpers in base, paging, present."""
