-- Device schema v9: each grant keeps the id of the grant envelope it came from, a UUIDv7 made by the sharing device; a grant replaces the held one only when newer, so a replayed old grant cannot reopen a withdrawn sharing.
ALTER TABLE case_grants ADD COLUMN version BLOB NOT NULL DEFAULT x'00000000000000000000000000000000';
