"""What every app shares and none owns: exact money, token usage, Redis clients, the SQLite
write lock, log scrubbing, API pagination. It imports none of the apps."""
