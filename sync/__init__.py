"""The bridge to QuickBooks Online: accounting adapter, mirror and write-back."""
