-- Every audit event records which kind of actor acted: `staff`, `client`,
-- `public`, `operator`, or `system:<job>` (velum_core::ActorKind). The
-- column is covered by the event's link: events that carry it are encoded
-- as `velum.audit.v2` (velum_core::audit::CanonicalFields). Events stored
-- before this migration keep NULL here and verify with the v1 encoding,
-- exactly as before; no stored event is rewritten.
ALTER TABLE audit_events ADD COLUMN actor_kind TEXT;
