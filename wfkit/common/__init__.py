"""The ground floor: small helpers every layer above may use, importing nothing of wfkit
but :mod:`wfkit.errors`: strict JSON text (:mod:`~wfkit.common.jsontext`) and name
suggestions (:mod:`~wfkit.common.suggest`)."""
