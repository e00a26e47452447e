"""Intelligence: STIX 2.1 objects shared over TAXII 2.1, every one a logged submission.

``collections`` says who may read and write which collection (a collection *is* an audience),
``stix`` validates objects, ``index`` keeps the TAXII view of the ``intelligence`` submissions
and answers its queries through the store's single audience check, ``service`` adds objects
through the hub's pipeline, and ``export`` turns parley's own records into STIX.
docs/taxii.md describes the whole.
"""
