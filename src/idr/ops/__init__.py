"""Operating idr unattended: backups and restores, readiness checks (`idr doctor`)."""
