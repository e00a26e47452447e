"""``parley mirror``: a party's own copy of the hub's log, checked entry by entry, cosigned,
served, and compared with other parties' copies so a split view or rollback is caught.

    datadir   the mirror's key (mode 0600) and where its state lives
    store     SQLite (synchronous=FULL): tiles, the verified checkpoint, the cosigned one, forks
    fetch     tiles fetched in parallel with a bounded pool
    follow    one round: hub checkpoint -> tiles -> verify -> store -> cosign; then the peers
    evidence  the fork evidence file and its offline check (``parley verify fork``)
    serve     the read-only copy over HTTP, under the hub's tile paths
    report    progress and events on the terminal (rich) or as JSON lines
    run       the loop that ties them together, and its exit codes
"""
