"""congdan: a citizen-feedback chat bot for a Vietnamese province.

The subpackages are the layers (docs/architecture.md): `domain` (the
province's rules), `conversation`, `delivery` (outbox, rendering, sender),
`interop` (CAP), `platforms` (Telegram), `cli`, and `emulators` (local
stand-ins for the platforms' servers). `config`, `i18n` and `deps` are the
settings, the catalogues and the wiring that every layer above them shares.
"""
