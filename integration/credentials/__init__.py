"""The credential vault: KSeF tokens, seals, access and refresh tokens, encrypted at rest."""
