"""Formats the field uses: coordinates (decimal, DMS, MGRS), and exchange formats."""
