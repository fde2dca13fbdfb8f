"""`ecolint server`: the findings and fixes in the editor, over the Language Server Protocol.

Built on pygls (the `ecolint[server]` extra) and imported only by that command. `documents`
maps what the editor holds (a text document, or a notebook's cells) to the module the engine
lints and back; `features` turns one lint into diagnostics, code actions and hovers; `server`
keeps the open documents, debounces their changes and lints them off the event loop.
"""
