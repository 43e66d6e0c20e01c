"""The review desk: tips sealed to desk keys (envelope), the keys (keys), what the desk lists and
fetches (queries), review outcomes from chain (reviews), and the desk-side check (check)."""
