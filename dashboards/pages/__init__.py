"""Dash's pages folder (create_app's `pages_folder`): pages only, one module per page.

Dash imports each module itself. A page module calls dash.register_page(__name__, path=...,
access=..., ...) and defines its layout; it may define its own callbacks. It
imports components and dialogs, never another page.
"""
