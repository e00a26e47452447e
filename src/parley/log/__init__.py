"""The verifiable log, without storage: Merkle hashing and proofs (RFC 9162), signed notes and
checkpoints (C2SP signed-note, tlog-checkpoint, tlog-cosignature), tiles (C2SP tlog-tiles) and
the offline verifier. Import the submodules directly; this package imports nothing."""
