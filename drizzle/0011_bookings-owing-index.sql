-- deduct-sessions pages walk the bookings that may still owe a session, late cancels included (src/db/schema.ts, bookings).
DROP INDEX "bookings_undeducted_idx";--> statement-breakpoint
CREATE INDEX "bookings_undeducted_idx" ON "bookings" USING btree ("id") WHERE "bookings"."used_pass" = false AND ("bookings"."status" <> 'CANCELLED' OR "bookings"."late_cancel");