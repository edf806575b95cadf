"""What a customer owes: mirrored invoices, balances and the dashboard."""
