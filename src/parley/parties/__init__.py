"""Parties: who they are, their keys and tokens, and how their signatures are checked."""
