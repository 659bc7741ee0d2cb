"""Dapr's workflow component contract as wfkit speaks it: the request and response
records with their JSON names (:mod:`~wfkit.engine.wire.contract`), their encoding
(:mod:`~wfkit.engine.wire.codec`, :mod:`~wfkit.engine.wire.timestamps`), and an
instance's summary in that form, the row fields a store keeps
(:mod:`~wfkit.engine.wire.summary`). Imports the core, never the loop."""
