"""Front doors: each client dialect's translator to and from the pipeline (gateway.pipeline).

A door turns a client's body into the pipeline's request and the pipeline's answer — JSON,
SSE events, errors — into the client's dialect, as an adapter does on the upstream side. It
knows nothing of keys, money or routing.
"""
