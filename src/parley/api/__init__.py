"""HTTP: the API under /api/v1, the log under /log, TAXII, OGC and the page."""
