"""Sales and cost invoices of client companies, their UPOs, sending and sync."""
