"""The append-only audit log: who changed what on an account, when and from where."""
