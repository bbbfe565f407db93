"""Provision and check remote monitoring for a Whisper transcription pipeline."""

__version__ = "0.1.0"
