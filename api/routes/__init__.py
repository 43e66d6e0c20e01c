"""The API's routes, one module per area: thin adapters over ``LedgerService``."""
