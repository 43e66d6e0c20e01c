"""TipLedger HTTP API (FastAPI)."""
