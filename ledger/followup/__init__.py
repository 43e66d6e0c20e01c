"""The reporter's anonymous follow-up: secrets, and the sealed message threads."""
