"""Act on the registry: registry backends, promotion and rollback, approvals, the audit trail, the training trigger."""
