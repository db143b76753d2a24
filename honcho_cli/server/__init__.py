"""`honcho serve`: the reference's v3 HTTP API over the local store and local models.

A thin face over `honcho_cli.client.Honcho`, like the CLI: the routes translate
requests into client calls and client records into the shapes the official SDK
(`honcho-ai`) parses. FastAPI and uvicorn load only when the server starts, so the
rest of the CLI never imports them.
"""
