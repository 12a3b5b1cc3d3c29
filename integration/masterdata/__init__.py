"""A client company's master data (counterparties, products and services) and its moves."""
