"""The archive side: scanning recordings, reading their metadata and audio, cutting segments."""
