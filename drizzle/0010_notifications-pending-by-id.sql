-- Delivery pages walk the PENDING notifications in ID order (src/db/schema.ts, notifications).
DROP INDEX "notifications_pending_idx";--> statement-breakpoint
CREATE INDEX "notifications_pending_idx" ON "notifications" USING btree ("id","due_at") WHERE "notifications"."status" = 'PENDING';