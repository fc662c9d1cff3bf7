"""Audit-trail, trade-log and ION files: their formats, daily rotation, manifest and upload.

Submodules import their third-party libraries lazily (paramiko only in the SFTP module), so
importing this package costs nothing.
"""
