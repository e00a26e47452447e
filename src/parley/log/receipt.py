"""The receipt's format name, shared by the hub that builds receipts (parley.hub.hublog) and the
party that checks them offline (parley.client.receipts), which must not import the hub."""

RECEIPT_VERSION = "parley-receipt/1"
