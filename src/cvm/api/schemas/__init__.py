"""Request and response shapes of the HTTP API (separate Create / Public models)."""
