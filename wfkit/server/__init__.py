"""The HTTP server (Dapr's workflow API routes); not built yet."""
