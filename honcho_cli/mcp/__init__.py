"""`honcho mcp`: the local memory as Model Context Protocol tools, over stdio.

A face beside `cli/` and `server/`: it turns tool calls into `Honcho` client calls on the
same kind of warm engine as `honcho serve` (honcho_cli/engine.py), and client errors into tool errors.
"""
