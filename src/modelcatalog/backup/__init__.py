"""Backup and restore of a catalog: its database, its secret key and its artifact manifest.

`take.take_backup` writes a backup folder (`folder` says what is in one and how it is checked);
`restore.restore_backup` brings one back on a new machine, into a new data folder and database.
Nothing here talks HTTP: both work on the database and the stores a server's settings name,
while that server runs (a backup) or before it starts (a restore).
"""

from modelcatalog.backup.folder import BackupFailed, BackupInputError, Tracker

__all__ = ["BackupFailed", "BackupInputError", "Tracker"]
