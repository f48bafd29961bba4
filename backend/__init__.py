"""Cadence: ePRO and visit scheduling for oncology trials."""
from backend.app import create_app

__all__ = ["create_app"]
