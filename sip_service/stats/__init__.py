"""Statistics for managers and steering groups: aggregates only, never a person."""
