"""`honcho mcp`: the local memory as Model Context Protocol tools, over stdio.

A face beside `cli/` and `server/`: it turns tool calls into `Honcho` client calls on the
same shared runtime as `honcho serve`, and client errors into tool errors.
"""
