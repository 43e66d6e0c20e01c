"""Running a deployment: the devchain, key files, private file writes."""
