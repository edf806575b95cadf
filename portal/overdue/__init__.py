"""Late fees, the overdue ladder and service turn-off."""
