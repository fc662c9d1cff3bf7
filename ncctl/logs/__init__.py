"""Trade-log, ION and audit-trail files: daily rotation, manifest and upload.

Rotation: ``rotation`` (the steps), ``rotation_result``, ``trade_dates``, ``inuse``,
``compress``, ``archives`` (what an archive directory holds), ``journal_export``. The
manifest: ``manifest``, ``inventory`` (``logs status``, pruning), ``status`` (read-only
totals). Upload: ``upload`` (which destination, what to send), ``destinations`` (what every
destination guarantees), ``file_destination``, ``sftp_destination`` on ``ssh_connection``,
``sftp_protocol`` and ``sftp_wire``. The audit-trail file format is ``ncctl.ilink.audit_trail``.

Submodules import their third-party libraries lazily (paramiko only when an SFTP connection
opens), so importing this package costs nothing.
"""
