"""The shopping cart, kept in the signed session cookie."""
