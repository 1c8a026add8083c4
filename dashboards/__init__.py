"""The interface (Dash). docs/architecture.md draws the whole house; here:

pages/       Dash's pages folder, pages only: one module per page (register_page with its
             access, a layout, that page's callbacks)
components/  the blocks the pages share (shell, filters, cards, charts, grids, tables)
dialogs/     the export dialogs (OPCO logs, attestations) the pages open
"""
