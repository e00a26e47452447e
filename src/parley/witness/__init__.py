"""A C2SP tlog-witness (c2sp.org/tlog-witness): cosigns a log's checkpoints after checking each
is consistent with the last one it cosigned, so a log that shows two parties two histories, or
rolls its history back, cannot get both past the same witness.

    datadir   the witness's key file and database in its data directory
    state     per-origin state in SQLite: log keys, last cosigned size and root (compare-and-swap)
    protocol  ``add-checkpoint``: parse the request, run the spec's checks, cosign
    app       the HTTP service (ASGI)
    client    what a log (the hub) calls to ask a witness for a cosignature
"""
