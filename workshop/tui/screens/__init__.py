"""Screens of the workshop app, each with its own module and stylesheet."""
