"""The KSeF 2.0 API client: transport, typed endpoints and errors, crypto, auth flows.

It shares no code with ``integration.ksef_sandbox``: a bug common to both would let every
test pass while the real KSeF refused us.
"""
