"""A customer's details (name, company, contact, billing and service addresses) edited in the
portal and written to the QuickBooks Customer through the outbox."""
