"""Users, sign-in, roles and scopes, and the guard every request goes through."""

from auth.guard import init_app

__all__ = ["init_app"]
