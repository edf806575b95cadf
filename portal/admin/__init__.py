"""Staff pages: customers and their portal logins (QuickBooks and sync pages come later)."""
